"""Expressions to SQL: literals, operators, comparisons, levels and function calls, over names and aggregates."""

from __future__ import annotations

from kpidsl.compile.aggregates import Aggregates, Scan
from kpidsl.compile.frame import ColInfo, CompileError, Frame, Scope
from kpidsl.compile.names import Ent, NameReader, Names
from kpidsl.compile.relation import Rel
from kpidsl.compile.values import ExactArithmetic, V, ValueKind, _deps
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import Analysis
from kpidsl.sql import decimal as D
from kpidsl.syntax import nodes as n

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


class ExprCompiler(NameReader, Aggregates, ExactArithmetic):
    """Compiles expressions of one frame set (a period's, or a rollup's) into relations."""

    def __init__(self, program: Program, analysis: Analysis, frames: dict[str, Frame], names: Names,
                 rounding: tuple[int, str], results, tag: str = "") -> None:
        self.p = program
        self.a = analysis
        self.frames = frames
        self.names = names
        self.places, self.mode = rounding
        self.results = results          # entity result columns: an object with score_cols/rating_cols/...
        self.tag = tag
        self.shared: dict[tuple, Scan] = {}       # scans over input rows, computed up front
        self.attached: dict[tuple, Scan] = {}     # scans run just before the stage that reads them
        self._tmp = 0
        self.periods_table: str | None = None
        self.period_cols: dict[str, ColInfo] = {}   # columns a period result row must carry

    # ------------------------------------------------------------ small helpers
    def tmp(self, hint: str = "t") -> str:
        self._tmp += 1
        return f"~{hint}{self._tmp}"

    # ------------------------------------------------------------ expressions
    def expr(self, e: n.Node, s: Scope) -> V:
        match e:
            case n.Num():
                return self.number(s.rel, e.value)
            case n.Text():
                return self.param(s.rel, e.value, "text")
            case n.DateLit():
                return self.param(s.rel, e.value, "date")
            case n.Bool():
                return V("TRUE" if e.value else "FALSE", "bool", simple=True)
            case n.Name():
                target = self.name(e, s)
                if isinstance(target, V):
                    return target
                raise CompileError(f"`{e.dotted}` is not a single value here", e.span)
            case n.Neg():
                v = self.expr(e.operand, s)
                return V(f"(-{v.sql})", v.kind if v.kind in ("int", "dec") else "dec", v.deps, scale=v.scale)
            case n.Not():
                v = self.expr(e.operand, s)
                return V(f"(NOT {v.sql})", "bool", v.deps)
            case n.BoolOp():
                parts = [self.expr(o, s) for o in e.operands]
                op = " AND " if e.op == "and" else " OR "
                return V("(" + op.join(p.sql for p in parts) + ")", "bool", _deps(parts))
            case n.Arith():
                return self._arith(e, s)
            case n.Compare():
                return self.compare(e, s)
            case n.InList():
                return self._in_list(e, s)
            case n.IsMissing():
                v = self._maybe_entity(e.operand, s)
                return V(f"({v.sql} IS {'NOT ' if e.negated else ''}NULL)", "bool", v.deps)
            case n.If():
                return self._if(e, s)
            case n.Call():
                return self.call(e, s)
        raise CompileError(f"cannot compute `{type(e).__name__}`", getattr(e, "span", None))

    def _arith(self, e: n.Arith, s: Scope) -> V:
        acc = self.expr(e.operands[0], s)
        for op, operand in zip(e.ops, e.operands[1:]):
            right = self.expr(operand, s)
            if op in ("+", "-"):
                acc = self.add(acc, right, op)
            elif op == "*":
                acc = self.multiply(acc, right)
            else:
                acc = self.divide(s.rel, acc, right)
        return acc

    def _in_list(self, e: n.InList, s: Scope) -> V:
        left = self.expr(e.operand, s)
        items = [self._operand(i, left, s) for i in e.items]
        left, *items = self.common([left, *items])
        return V(f"({left.sql} IN ({', '.join(i.sql for i in items)}))", "bool", _deps([left, *items]))

    def _if(self, e: n.If, s: Scope) -> V:
        cond = self.expr(e.cond, s)
        a, b = self.expr(e.then, s), self.expr(e.otherwise, s)
        a, b, kind = self.unify(a, b)
        return V(f"(CASE WHEN {cond.sql} THEN {a.sql} ELSE {b.sql} END)", kind, _deps([cond, a, b]),
                 levels=max(a.levels, b.levels, key=len), scale=a.scale if a.kind == "dec" else b.scale)

    def _maybe_entity(self, e: n.Node, s: Scope) -> V:
        """A value, or a related unit as its row number: `parent is missing` holds for the top unit."""
        if isinstance(e, n.Name):
            target = self.name(e, s)
            if isinstance(target, Ent):
                return self.anchor_value(s, target.anchor)
            if isinstance(target, V):
                return target
            raise CompileError(f"`{e.dotted}` is not a single value here", e.span)
        return self.expr(e, s)

    def unify(self, a: V, b: V) -> tuple[V, V, ValueKind]:
        if a.kind == "null":
            if b.kind in ("int", "dec"):
                a = V(f"CAST(NULL AS {'BIGINT' if b.kind == 'int' else f'DECIMAL(38,{b.scale})'})", b.kind,
                      simple=True, scale=b.scale)
            return a, b, b.kind
        if b.kind == "null":
            b, a, kind = self.unify(b, a)
            return a, b, kind
        if a.kind in ("int", "dec") and b.kind in ("int", "dec"):
            a, b = self.common([a, b])
            return a, b, a.kind
        return a, b, a.kind

    def _operand(self, e: n.Node, other: V, s: Scope) -> V:
        """One side of a comparison: a bare word may be a value of the other side's enum or rating."""
        ref = self.a.refs.get(id(e)) if isinstance(e, n.Name) else None
        if isinstance(e, n.Name) and ref is not None and ref.sym.kind in ("enum_value", "level"):
            return self.param(s.rel, e.parts[0], "level" if ref.sym.kind == "level" else "enum")
        return self.expr(e, s)

    def compare(self, e: n.Compare, s: Scope) -> V:
        left_ref = self.a.refs.get(id(e.left)) if isinstance(e.left, n.Name) else None
        if left_ref is not None and left_ref.sym.kind in ("enum_value", "level"):
            right = self.expr(e.right, s)
            left = self._operand(e.left, right, s)
        else:
            left = self.expr(e.left, s)
            right = self._operand(e.right, left, s)
        op = e.op
        if left.kind == "level" or right.kind == "level":
            # The longer list orders both sides (the checker makes the shorter fit into it).
            levels = max((self._levels(e), left.levels, right.levels), key=len)
            if op in ("=", "!="):
                return V(f"({left.sql} {_OPS[op]} {right.sql})", "bool", _deps([left, right]))
            # Levels are listed best first: `a >= b` holds when a's place in the list is at or before b's.
            li, ri = self.level_index(s.rel, left, levels), self.level_index(s.rel, right, levels)
            return V(f"({li} {_OPS[_FLIP[op]]} {ri})", "bool", _deps([left, right]))
        left, right = self.common([left, right])
        return V(f"({left.sql} {_OPS[op]} {right.sql})", "bool", _deps([left, right]))

    def _levels(self, e: n.Compare) -> tuple[str, ...]:
        found = [t.values for t in (self.a.type_of(side).scalar() for side in (e.left, e.right)) if t.kind == "level"]
        return max(found, key=len, default=())

    def level_index(self, rel: Rel, v: V, levels: tuple[str, ...]) -> str:
        if not levels:
            raise CompileError("levels cannot be ordered here: no rating gives them an order")
        cases = " ".join(f"WHEN {rel.params.add(name)} THEN {i}" for i, name in enumerate(levels))
        return f"(CASE {v.sql} {cases} END)"

    # ------------------------------------------------------------ calls
    def call(self, e: n.Call, s: Scope) -> V:
        func = e.func
        if func in ("count", "sum", "mean", "share") or (func in ("min", "max") and len(e.args) == 1):
            return self.aggregate(e, s)[0]
        if e.where is not None or e.deduction is not None:
            raise CompileError(f"`{func}` takes no `where` or deduction", e.span)
        if func in ("min", "max"):
            args = [self.expr(a, s) for a in e.args]
            args = [self.lift(s.rel, a) for a in self.common(args)]
            kind = args[0].kind
            fn = "least" if func == "min" else "greatest"
            # least() skips NULLs; a missing argument makes the result missing.
            nulls = " OR ".join(f"{a.sql} IS NULL" for a in args)
            return V(f"(CASE WHEN {nulls} THEN NULL ELSE {fn}({', '.join(a.sql for a in args)}) END)", kind,
                     _deps(args), scale=args[0].scale)
        if func == "abs":
            v = self.expr(e.args[0], s)
            return V(f"abs({v.sql})", v.kind, v.deps, scale=v.scale)
        if func == "round":
            if len(e.args) != 2 or not isinstance(e.args[1], n.Num) or e.args[1].value.denominator != 1 \
                    or not 0 <= e.args[1].value <= D.SCALE:
                raise CompileError(f"`round` needs a whole number of places from 0 to {D.SCALE}, written as a number",
                                   e.span)
            return self.round_to(s.rel, self.expr(e.args[0], s), int(e.args[1].value))
        raise CompileError(f"unknown function `{func}`", e.span)
