"""Expressions to SQL: names through rows, relations and collections; exact arithmetic; aggregates as grouped scans.

Every number is a DECIMAL(38,12) (or an integer while it stays one); a division or a
rounding goes through the HUGEINT helpers of `engine.decimal_sql`, whose operands are
first made columns of a lower layer so the SQL never repeats a large expression.
An aggregate over a collection is added to the *scan* of that collection and owner
(one GROUP BY over the rows) and read back by joining the scan on the owner's `_e`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from kpidsl import nodes as n
from kpidsl.check.scope import Analysis
from kpidsl.compile_frame import (SELF, Anchor, ColInfo, CompileError, Frame, NeedFlush, Scope, SOURCE,
                                  work_table)
from kpidsl.compile_rel import Rel
from kpidsl.engine import decimal_sql as D
from kpidsl.engine.sql import Params, ident, qualified
from kpidsl.resolve import Program

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_KINDS = {"number": "dec", "integer": "int", "bool": "bool", "date": "date", "text": "text", "ref": "text",
          "enum": "enum"}
_SQL_TYPES = {"dec": D.DEC, "int": "HUGEINT", "bool": "BOOLEAN", "date": "DATE", "text": "VARCHAR",
              "enum": "VARCHAR", "level": "VARCHAR"}


def sql_type(kind: str) -> str:
    return _SQL_TYPES[kind]


@dataclass(frozen=True)
class V:
    """A compiled value: SQL readable in the relation's top layer, its kind, and the columns it reads."""

    sql: str
    kind: str                       # int dec bool text date enum level null
    deps: frozenset[str] = frozenset()
    simple: bool = False
    levels: tuple[str, ...] = ()
    scale: int = 12                 # decimals: the places of its SQL type (12 unless exact with fewer)


NULL = V("NULL", "null", simple=True)


@dataclass(frozen=True)
class Ent:
    """A single related entity: its kind and where its `_e` is."""

    entity: str
    anchor: Anchor


@dataclass(frozen=True)
class Coll:
    """A collection of rows owned by one entity: input rows, members, leaders, children or periods."""

    kind: str                  # input | members | leaders | children | periods
    source: str                # the input, or the row entity (people/units)
    owner: str                 # the owner entity
    anchor: Anchor             # the owner's `_e`, in the relation that reads the aggregate
    narrow: str | None = None  # people/units rows scored by this score only
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    """`tasks.coefficient`: a column of a collection's rows (only meaningful inside an aggregate)."""

    coll: Coll
    rest: tuple[str, ...]


class Impure(Exception):
    """A shared scan's row expression read something outside the row."""


@dataclass
class Scan:
    """One grouped pass over a collection for one kind of owner, computing every aggregate asked of it."""

    key: tuple
    table: str
    rel: Rel
    coll: Coll
    group: str                          # the group key, readable in the top layer
    mode: str                           # input | entity | periods
    shared: bool                        # computed once, up front (reads only input rows)
    aggs: dict[tuple, tuple[str, str]] = field(default_factory=dict)   # key -> (column, kind)
    select: list[str] = field(default_factory=list)
    top_filter: list[str] = field(default_factory=list)
    owner_base: str = ""
    rules: list = field(default_factory=list)

    def sql(self) -> str:
        cols = ", ".join(self.select) or "count(*) AS \"n\""
        where = f"WHERE {' AND '.join(self.top_filter)} " if self.top_filter else ""
        if self.mode in ("input", "periods"):
            inner = self.rel.sql(f"{self.group} AS \"_k\", {cols}", f"{where}GROUP BY 1")
            return (f'SELECT o."_e" AS "_owner", g.* EXCLUDE ("_k") FROM ({inner}) AS g '
                    f'JOIN {self.owner_base} AS o ON o."id" = g."_k"')
        return self.rel.sql(f"{self.group} AS \"_owner\", {cols}", f"{where}GROUP BY 1")


class Names:
    """The names an entity row, an input row or a period row offers, in the checker's order."""

    def __init__(self, program: Program) -> None:
        self.p = program
        self.scores_for = {e: [s for s in program.scores.values() if s.entity == e] for e in ("people", "units")}
        self.rating_of: dict[str, str] = {}
        for score in program.scores.values():
            for item in score.items:
                if isinstance(item, n.UseRating) and item.name in program.ratings:
                    self.rating_of.setdefault(score.name, item.name)
        self._own: dict[str, dict[str, tuple]] = {}

    def entity_input(self, entity: str) -> n.Input | None:
        return self.p.entity_input(entity)

    def own(self, entity: str) -> dict[str, tuple]:
        found = self._own.get(entity)
        if found is not None:
            return found
        out: dict[str, tuple] = {}
        for m in self.p.measures.values():
            if m.entity == entity:
                out.setdefault(m.name, ("measure", m.name))
        inp = self.entity_input(entity)
        relation_cols: set[str] = set()
        if entity == "people" and self.p.people is not None:
            relation_cols.add(self.p.people.member_of)
        if entity == "units" and self.p.units is not None and self.p.units.parent:
            relation_cols.add(self.p.units.parent)
        if inp is not None:
            for f in inp.fields:
                if f.name in relation_cols and f.name in ("unit", "parent"):
                    continue
                out.setdefault(f.name, ("field", f))
            for other in self.p.inputs.values():
                if any(f.type.base == "ref" and f.type.ref == inp.name for f in other.fields):
                    out.setdefault(other.name, ("input", other.name))
        if entity == "people" and self.p.people is not None:
            out.setdefault("unit", ("rel", "unit"))
        if entity == "units":
            if self.p.people is not None:
                out.setdefault("members", ("coll", "members"))
                out.setdefault("leaders", ("coll", "leaders"))
            if self.p.units is not None and self.p.units.parent:
                out.setdefault("parent", ("rel", "parent"))
                out.setdefault("children", ("coll", "children"))
        self._own[entity] = out
        return out

    def entity_row(self, entity: str, narrow: str | None) -> dict[str, tuple]:
        out = dict(self.own(entity))
        scores = [narrow] if narrow else [s.name for s in self.scores_for[entity]]
        if scores:
            out.setdefault("score", ("score", narrow))
        if any(s in self.rating_of for s in scores):
            out.setdefault("rating", ("rating", narrow))
        for score in self.scores_for[entity]:
            if narrow in (None, score.name):
                for item in items_of(score):
                    out.setdefault(item.name, ("criterion", item.name))
        return out

    def periods_row(self, entity: str) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        if self.scores_for[entity]:
            out["score"] = ("pscore",)
            if any(s.name in self.rating_of for s in self.scores_for[entity]):
                out["rating"] = ("prating",)
        for name, sym in self.own(entity).items():
            if sym[0] in ("measure", "field"):
                out.setdefault(name, ("p" + sym[0], sym[1]))
        return out

    def input_row(self, input_name: str) -> dict[str, tuple]:
        inp = self.p.inputs[input_name]
        return {f.name: ("ifield", f) for f in inp.fields}

    def narrows(self, entity: str) -> set[str]:
        return {s.name for s in self.scores_for[entity]}


def items_of(block) -> list:
    """Every criterion, group, bonus and penalty of a score, parents before children."""
    out = []
    stack = list(reversed(block.items))
    while stack:
        item = stack.pop()
        if isinstance(item, (n.Criterion, n.Group, n.Adjustment)):
            out.append(item)
        if isinstance(item, n.Group):
            stack.extend(reversed(item.items))
    return out


class ExprCompiler:
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

    def param(self, rel: Rel, value: Any, kind: str) -> V:
        if kind == "dec":
            exact, places = _decimal(value)
            ref = rel.params.add(exact)
            width = 18 if abs(exact) < Decimal(10) ** (18 - places) else 38
            return V(f"CAST({ref} AS DECIMAL({width},{places}))", "dec", simple=True, scale=places)
        ref = rel.params.add(_py(value, kind))
        if kind == "int":
            return V(f"CAST({ref} AS {'HUGEINT' if abs(value) >= 2 ** 62 else 'BIGINT'})", "int", simple=True,
                     scale=0)
        if kind == "date":
            return V(f"CAST({ref} AS DATE)", "date", simple=True)
        return V(f"CAST({ref} AS VARCHAR)", kind, simple=True)

    def number(self, rel: Rel, value: Fraction) -> V:
        """A framework number as a parameter: an integer stays one, anything else is a decimal."""
        if value.denominator == 1:
            return self.param(rel, int(value), "int")
        return self.param(rel, value, "dec")

    def lift(self, rel: Rel, v: V, hint: str = "t") -> V:
        """A value that may be repeated in SQL: a column of a lower layer (or already simple)."""
        if v.simple:
            return v
        name = rel.add(self.tmp(hint), v.sql, v.deps, v.kind, v.levels)
        return V(ident(name), v.kind, frozenset({name}), simple=True, levels=v.levels, scale=v.scale)

    def as_dec(self, v: V) -> V:
        """A number as DECIMAL(38,12); widening a decimal of fewer places is exact and cheap."""
        if v.kind == "dec" and v.scale == D.SCALE:
            return v
        if v.kind == "null":
            return V(f"CAST(NULL AS {D.DEC})", "dec", simple=True)
        return V(D.dec(v.sql), "dec", v.deps, v.simple)

    def at_scale(self, v: V, scale: int) -> V:
        """A number as DECIMAL(38, scale), scale at least its own: for comparing and combining exactly."""
        if v.kind == "int" and scale == 0:
            return v
        return V(f"CAST({v.sql} AS DECIMAL(38,{scale}))", "dec", v.deps, v.simple, scale=scale)

    def common(self, values: list[V]) -> list[V]:
        """Numbers brought to one decimal type (DuckDB would otherwise round some of them)."""
        nums = [v for v in values if v.kind in ("int", "dec")]
        if not nums or all(v.kind == "int" for v in nums):
            return values
        scale = max(v.scale if v.kind == "dec" else 0 for v in nums)
        return [self.at_scale(v, scale) if v.kind in ("int", "dec") else
                (V(f"CAST(NULL AS DECIMAL(38,{scale}))", "dec", simple=True, scale=scale) if v.kind == "null" else v)
                for v in values]

    # ------------------------------------------------------------ exact arithmetic
    def ratio(self, rel: Rel, num: V, den: V, places: int, mode: str) -> V:
        """round(num / den, places) exactly, as DECIMAL(38,12); num and den are HUGEINT values."""
        num, den = self.lift(rel, num, "n"), self.lift(rel, den, "d")
        pow10 = self.param(rel, 10 ** places, "int").sql
        limit = rel.params.add(2 ** 125 // (2 * 10 ** places))
        r = D.ratio_fast(num.sql, den.sql, places, pow10, mode, f"CAST({limit} AS HUGEINT)")
        unit = f"CAST({rel.params.add(Decimal(1).scaleb(-places))} AS DECIMAL(38,{places}))"
        return V(D.from_scaled(r, places, unit), "dec", num.deps | den.deps)

    def scaled(self, rel: Rel, v: V) -> V:
        """The HUGEINT v * 10^12."""
        if v.kind == "int":
            return V(f"(CAST({v.sql} AS HUGEINT) * {D.ONE_E12})", "int", v.deps)
        v = self.lift(rel, v)
        return V(D.scaled(v.sql), "int", v.deps)

    def divide(self, rel: Rel, a: V, b: V) -> V:
        if a.kind == "int" and b.kind == "int":
            num = V(f"CAST({a.sql} AS HUGEINT)", "int", a.deps)
            den = V(f"CAST({b.sql} AS HUGEINT)", "int", b.deps)
        else:
            num, den = self.scaled(rel, a), self.scaled(rel, b)
        return self.ratio(rel, num, den, D.SCALE, "half_up")

    def round_to(self, rel: Rel, v: V, places: int, mode: str | None = None) -> V:
        """v rounded to `places` by the framework's mode (or `mode`)."""
        mode = mode or self.mode
        if v.kind == "int":
            return v
        if mode == "half_up":
            # DuckDB's round() of a DECIMAL rounds a tie away from zero, exactly: Python's ROUND_HALF_UP.
            return V(D.dec(f"round({v.sql}, {int(places)})"), "dec", v.deps)
        if mode == "down":
            return V(D.dec(f"trunc({v.sql}, {int(places)})"), "dec", v.deps)
        return self.ratio(rel, self.scaled(rel, v), V(D.ONE_E12, "int", simple=True), places, mode)

    def multiply(self, a: V, b: V) -> V:
        deps = a.deps | b.deps
        if a.kind == "int" and b.kind == "int":
            return V(f"({a.sql} * {b.sql})", "int", deps, scale=0)
        if a.kind == "int" or b.kind == "int":
            d, i = (a, b) if a.kind == "dec" else (b, a)
            return V(f"({d.sql} * CAST({i.sql} AS HUGEINT))", "dec", deps, scale=d.scale)
        if a.scale + b.scale <= D.SCALE:
            # Exact without rounding: DuckDB's product keeps every place.
            return V(f"({a.sql} * {b.sql})", "dec", deps, scale=a.scale + b.scale)
        return V(D.dec(f"({a.sql} * {b.sql})"), "dec", deps)

    def add(self, a: V, b: V, op: str) -> V:
        deps = a.deps | b.deps
        if a.kind == "int" and b.kind == "int":
            return V(f"({a.sql} {op} {b.sql})", "int", deps, scale=0)
        a, b = self.common([a, b])
        return V(f"({a.sql} {op} {b.sql})", "dec", deps, scale=a.scale if a.kind == "dec" else b.scale)

    # ------------------------------------------------------------ expressions
    def expr(self, e: n.Node, s: Scope) -> V:
        if isinstance(e, n.Num):
            return self.number(s.rel, e.value)
        if isinstance(e, n.Text):
            return self.param(s.rel, e.value, "text")
        if isinstance(e, n.DateLit):
            return self.param(s.rel, e.value, "date")
        if isinstance(e, n.Bool):
            return V("TRUE" if e.value else "FALSE", "bool", simple=True)
        if isinstance(e, n.Name):
            target = self.name(e, s)
            if isinstance(target, V):
                return target
            raise CompileError(f"`{e.dotted}` is not a single value here", e.span)
        if isinstance(e, n.Neg):
            v = self.expr(e.operand, s)
            return V(f"(-{v.sql})", v.kind if v.kind in ("int", "dec") else "dec", v.deps, scale=v.scale)
        if isinstance(e, n.Not):
            v = self.expr(e.operand, s)
            return V(f"(NOT {v.sql})", "bool", v.deps)
        if isinstance(e, n.BoolOp):
            parts = [self.expr(o, s) for o in e.operands]
            op = " AND " if e.op == "and" else " OR "
            return V("(" + op.join(p.sql for p in parts) + ")", "bool", _deps(parts))
        if isinstance(e, n.Arith):
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
        if isinstance(e, n.Compare):
            return self.compare(e, s)
        if isinstance(e, n.InList):
            left = self.expr(e.operand, s)
            items = [self._operand(i, left, s) for i in e.items]
            left, *items = self.common([left, *items])
            return V(f"({left.sql} IN ({', '.join(i.sql for i in items)}))", "bool", _deps([left, *items]))
        if isinstance(e, n.IsMissing):
            v = self._maybe_entity(e.operand, s)
            return V(f"({v.sql} IS {'NOT ' if e.negated else ''}NULL)", "bool", v.deps)
        if isinstance(e, n.If):
            cond = self.expr(e.cond, s)
            a, b = self.expr(e.then, s), self.expr(e.otherwise, s)
            a, b, kind = self.unify(a, b)
            return V(f"(CASE WHEN {cond.sql} THEN {a.sql} ELSE {b.sql} END)", kind, _deps([cond, a, b]),
                     levels=max(a.levels, b.levels, key=len), scale=a.scale if a.kind == "dec" else b.scale)
        if isinstance(e, n.Call):
            return self.call(e, s)
        raise CompileError(f"cannot compute `{type(e).__name__}`", getattr(e, "span", None))

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

    def unify(self, a: V, b: V) -> tuple[V, V, str]:
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
        if ref is not None and ref.sym.kind in ("enum_value", "level"):
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

    # ------------------------------------------------------------ names
    def name(self, e: n.Name, s: Scope):
        parts = e.parts
        target, used, scope = self._first(e, s)
        for part in parts[used:]:
            target = self._member(target, part, scope, e)
        return target

    def _first(self, e: n.Name, s: Scope):
        """The meaning of the first part (or of a collection prefix) of a name; (target, parts used, scope)."""
        parts = e.parts
        row = s
        while row is not None and row.kind != "frame":
            if row.prefix and len(parts) > len(row.prefix) and parts[:len(row.prefix)] == row.prefix:
                return ("row", row), len(row.prefix), row
            names = self._row_names(row)
            sym = names.get(parts[0])
            if sym is not None:
                if row is not s:
                    raise CompileError(f"`{e.dotted}` reads a row of an enclosing aggregate; write it as a measure",
                                       e.span)
                return self._row_sym(sym, row, e), 1, row
            row = row.outer
        frame = row
        if frame is None:
            raise CompileError(f"`{e.dotted}` cannot be read here", e.span)
        first = parts[0]
        sym = self.names.own(frame.entity).get(first)
        # The collection prefix rule: `tasks.x` inside an aggregate over tasks names the row.
        if sym is not None and len(parts) > 1 and sym[0] in ("input", "coll"):
            for row in _rows(s):
                if _same_rows(row, sym, frame.entity):
                    return ("row", row), 1, row
        # Outside every row: the frame's own names, read from the innermost relation.
        reader = s
        anchor = SELF
        if s is not frame:
            if s.outer is not frame:
                raise CompileError(f"`{e.dotted}` reads the entity from inside nested aggregates; "
                                   "write the inner aggregate as a measure", e.span)
            if s.pure:
                raise Impure()
            anchor = s.owner
        if frame.result is not None and first in ("score", "rating"):
            if s is not frame:
                raise CompileError(f"`{first}` cannot be read inside an aggregate", e.span)
            value = frame.result.score if first == "score" else frame.result.rating
            if value is None:
                raise CompileError("`rating` is not decided yet where it is read", e.span)
            return value, 1, frame
        if frame.periods and first == "periods":
            if s is not frame:
                raise CompileError("`periods` cannot be read inside an aggregate", e.span)
            return Coll("periods", frame.entity, frame.entity, SELF, path=("periods",)), 1, frame
        if sym is None:
            raise CompileError(f"unknown name `{first}`", e.span)
        return self._entity_sym(sym, frame.entity, anchor, reader, e), 1, reader

    def _row_names(self, row: Scope) -> dict[str, tuple]:
        if row.kind == "input":
            return self.names.input_row(row.input)
        if row.kind == "periods":
            return self.names.periods_row(row.entity)
        return self.names.entity_row(row.entity, row.narrow)

    def _row_sym(self, sym: tuple, row: Scope, e: n.Name):
        kind = sym[0]
        if kind == "ifield":
            f = sym[1]
            return field_value(f, ident(f.name), frozenset({f.name}))
        if row.kind == "periods":
            return self._period_value(sym, row, e)
        return self._entity_sym(sym, row.entity, SELF, row, e, narrow=row.narrow)

    def _period_value(self, sym: tuple, row: Scope, e: n.Name) -> V:
        kind = sym[0]
        if kind == "pscore":
            return V(ident("score"), "dec", frozenset({"score"}), simple=True)
        if kind == "prating":
            return V(ident("rating"), "level", frozenset({"rating"}), simple=True,
                     levels=self.results.entity_levels(row.entity))
        name = ("m:" if kind == "pmeasure" else "f:") + (sym[1] if kind == "pmeasure" else sym[1].name)
        info = self.period_cols.get(name)
        if info is None:
            if kind == "pfield":
                info = ColInfo(_KINDS.get(sym[1].type.base, "text"))
            else:
                info = self._period_measure(sym[1], row.entity)
                if info is None:
                    raise CompileError(f"measure `{sym[1]}` of each period is not kept for the roll-up", e.span)
            self.period_cols[name] = info
        return V(ident(name), info.kind, frozenset({name}), simple=True, levels=info.levels)

    def _period_measure(self, measure: str, entity: str) -> ColInfo | None:
        """A measure's column as each period computed it: every period computes every measure."""
        owner = getattr(self, "owner", None)
        fr = owner.frames.get(entity) if owner is not None else None
        column = f"m:{measure}"
        if fr is None or column not in fr.tables:
            return None
        info = fr.info.get(column)
        if info is None:
            kind = owner.measure_cols.get(measure, {}).get("kind")
            info = ColInfo(kind) if kind else None
        return info

    def _entity_sym(self, sym: tuple, entity: str, anchor: Anchor, s: Scope, e: n.Name, narrow: str | None = None):
        kind = sym[0]
        if kind == "measure":
            return self.read(s, entity, anchor, f"m:{sym[1]}", e)
        if kind == "field":
            return self.read_field(s, entity, anchor, sym[1])
        if kind == "input":
            return Coll("input", sym[1], entity, anchor, path=(e.parts[0],))
        if kind == "rel":
            column = "_unit_e" if sym[1] == "unit" else "_parent_e"
            return Ent("units", self.anchor(s, entity, anchor, column))
        if kind == "coll":
            source = "units" if sym[1] == "children" else "people"
            return Coll(sym[1], source, entity, anchor)
        if kind == "score":
            return self.results.score(self, s, entity, anchor, sym[1] or narrow, e)
        if kind == "rating":
            return self.results.rating(self, s, entity, anchor, sym[1] or narrow, e)
        if kind == "criterion":
            return self.results.criterion(self, s, entity, anchor, sym[1], narrow, e)
        raise CompileError(f"`{e.dotted}` cannot be read here", e.span)

    def _member(self, target, part: str, s: Scope, e: n.Name):
        if isinstance(target, tuple) and target[0] == "row":
            row = target[1]
            sym = self._row_names(row).get(part)
            if sym is None:
                raise CompileError(f"the rows have no `{part}`", e.span)
            return self._row_sym(sym, row, e)
        if isinstance(target, Ent):
            sym = self.names.entity_row(target.entity, None).get(part)
            if sym is None:
                raise CompileError(f"{target.entity} have no `{part}`", e.span)
            return self._entity_sym(sym, target.entity, target.anchor, s, e)
        if isinstance(target, Coll):
            if target.kind in ("members", "leaders", "children") and target.narrow is None \
                    and part in self.names.narrows(target.source):
                return replace(target, narrow=part)
            return Column(target, (part,))
        if isinstance(target, Column):
            return Column(target.coll, target.rest + (part,))
        raise CompileError(f"`{e.dotted}` has no part `{part}`", e.span)

    # ------------------------------------------------------------ reading columns
    def frame(self, entity: str) -> Frame:
        return self.frames[entity]

    def anchor(self, s: Scope, entity: str, at: Anchor, column: str) -> Anchor:
        """The anchor one relation away: the base column `column` of the entity row at `at`."""
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return Anchor("b", column)
        fr = self.frame(entity)
        alias = s.rel.join(("base", entity, at.sql), fr.base, f'{{a}}."_e" = {at.sql}', "e")
        return Anchor(alias, column)

    def anchor_value(self, s: Scope, at: Anchor) -> V:
        """An anchor as a value of the top layer (a group key, a join key)."""
        if at.alias == "b":
            return V(ident(at.column), "int", frozenset({at.column}), simple=True)
        local = s.rel.pull(at.alias, at.column, f"{at.alias}.{at.column}")
        return V(ident(local), "int", frozenset({local}), simple=True)

    def read_base(self, s: Scope, entity: str, at: Anchor, column: str, kind: str = "text") -> V:
        """A column of the entity's base table (`id`), at an anchor."""
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return V(ident(column), kind, frozenset({column}), simple=True)
        alias = s.rel.join(("base", entity, at.sql), self.frame(entity).base, f'{{a}}."_e" = {at.sql}', "e")
        local = s.rel.pull(alias, column, f"{alias}.{column}")
        return V(ident(local), kind, frozenset({local}), simple=True)

    def read_field(self, s: Scope, entity: str, at: Anchor, f: n.Field) -> V:
        name = f"f:{f.name}"
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return field_value(f, ident(name), frozenset({name}))
        fr = self.frame(entity)
        alias = s.rel.join(("base", entity, at.sql), fr.base, f'{{a}}."_e" = {at.sql}', "e")
        local = s.rel.pull(alias, name, f"{alias}.{name}")
        return field_value(f, ident(local), frozenset({local}))

    def read(self, s: Scope, entity: str, at: Anchor, column: str, e: n.Node | None = None) -> V:
        """A computed column of the entity row at `at`: from the stage being built, or from its table."""
        fr = self.frame(entity)
        info = fr.info.get(column)
        own = at == SELF and s.kind == "frame" and s.entity == entity
        if own and s.rel.has(column):
            return V(ident(column), info.kind if info else "dec", frozenset({column}), simple=True,
                     levels=info.levels if info else ())
        table = fr.tables.get(column)
        if fr.rec_table is not None and column in fr.rec_cols and not own:
            table = fr.rec_table
        if table is None:
            if fr.pending is not None and column in fr.pending.outputs:
                raise NeedFlush(entity)
            what = column.split(":", 1)[-1]
            raise CompileError(f"`{what}` is read before it is computed", getattr(e, "span", None))
        alias = s.rel.join(("table", table, at.sql), table, f'{{a}}."_e" = {at.sql}', "t")
        local = column if at == SELF and s.kind in ("frame", "entity") and s.entity == entity \
            else f"{alias}.{column}"
        local = s.rel.pull(alias, column, local)
        return V(ident(local), info.kind if info else "dec", frozenset({local}), simple=True,
                 levels=info.levels if info else ())

    # ------------------------------------------------------------ aggregates
    def aggregate(self, e: n.Call, s: Scope, stats: bool = False) -> tuple[V, V | None, V | None]:
        """An aggregate's value, read from its scan; with `stats`, also rows considered and rows matched."""
        func = e.func
        arg = e.args[0] if e.args else None
        coll, rest = self._collection(arg, s, e)
        if e.deduction is not None and func not in ("sum", "mean"):
            raise CompileError(f"a deduction applies to `sum` or `mean`, not `{func}`", e.deduction.span)
        for attempt in ("shared", "attached"):
            scan = self.scan_for(coll, s, attempt)
            if scan is None:
                continue
            saved = (scan.rel.copy(), dict(scan.aggs), list(scan.select))
            try:
                cols = self._agg_columns(e, func, arg, coll, rest, scan, s, stats)
                break
            except Impure:
                scan.rel, scan.aggs, scan.select = saved
                continue
        else:  # pragma: no cover - the attached scan always accepts
            raise CompileError("cannot compute this aggregate", e.span)
        alias = s.rel.join(("scan", scan.table, coll.anchor.sql), scan.table,
                           f'{{a}}."_owner" = {coll.anchor.sql}', "a")
        reads = {}
        for key, (column, kind) in cols.items():
            local = s.rel.pull(alias, column, f"{alias}.{column}")
            # A sum of a number field is DECIMAL(38,10): every number is read as DECIMAL(38,12).
            sql = D.dec(ident(local)) if kind == "dec" else ident(local)
            reads[key] = V(sql, kind, frozenset({local}), simple=kind != "dec")
        value = self._agg_value(func, reads, s)
        if not stats:
            return value, None, None
        total = V(f"coalesce({reads['total'].sql}, 0)", "int", reads["total"].deps)
        matched = V(f"coalesce({reads['matched'].sql}, 0)", "int", reads["matched"].deps)
        return value, total, matched

    def _collection(self, arg: n.Node | None, s: Scope, e: n.Call) -> tuple[Coll, tuple[str, ...]]:
        if isinstance(arg, n.Name):
            target = self.name(arg, s)
            if isinstance(target, Coll):
                return replace(target, path=arg.parts), ()
            if isinstance(target, Column):
                return replace(target.coll, path=arg.parts[:len(arg.parts) - len(target.rest)]), target.rest
        elif arg is not None:
            for node in _names_in(arg):
                if self.a.type_of(node).kind == "column":
                    target = self.name(node, s)
                    if isinstance(target, Column):
                        prefix = node.parts[:len(node.parts) - len(target.rest)]
                        return replace(target.coll, path=prefix), ("*",)
        raise CompileError(f"`{e.func}` needs a collection, such as `tasks` or `members`", e.span)

    def scan_for(self, coll: Coll, consumer: Scope, attempt: str) -> Scan | None:
        if attempt == "shared" and coll.kind != "input":
            return None
        key = (coll.kind, coll.source, coll.narrow, coll.owner)
        if attempt == "shared":
            table = self.shared.get(key)
            if table is None:
                table = self._new_scan(coll, key, shared=True)
                self.shared[key] = table
            return table
        key = key + (consumer.rel.uid,)
        table = self.attached.get(key)
        if table is None:
            table = self._new_scan(coll, key, shared=False)
            self.attached[key] = table
            self.on_attached(table, consumer)
        return table

    def on_attached(self, scan: Scan, consumer: Scope) -> None:
        """Called when a scan must run before the stage that reads it (set by the plan compiler)."""
        raise NotImplementedError

    def _new_scan(self, coll: Coll, key: tuple, shared: bool) -> Scan:
        number = len(self.shared) + len(self.attached) + 1
        table = work_table(f"{self.tag}scan:{number}")
        params = Params("q")
        owner_base = self.frame(coll.owner).base
        if coll.kind == "input":
            inp = self.p.inputs[coll.source]
            owner_input = self.names.entity_input(coll.owner)
            refs = [f for f in inp.fields if f.type.base == "ref" and owner_input and f.type.ref == owner_input.name]
            if len(refs) != 1:
                raise CompileError(f"input `{inp.name}` refers to {coll.owner} through {len(refs)} fields; "
                                   "the rows of a person or unit are unclear", inp.span)
            rel = Rel(qualified(SOURCE, inp.name), params, frozenset(f.name for f in inp.fields) | {"_row"})
            rel.reads.add(qualified(SOURCE, inp.name))
            return Scan(key, table, rel, coll, ident(refs[0].name), "input", shared, owner_base=owner_base)
        if coll.kind == "periods":
            if self.periods_table is None:
                raise CompileError("`periods` is only known in a roll-up")
            rel = Rel(self.periods_table, params, frozenset({"id", "score", "rating", "status", "score_name"}))
            rel.reads.add(self.periods_table)
            return Scan(key, table, rel, coll, ident("id"), "periods", False, owner_base=owner_base)
        fr = self.frame(coll.source)
        rel = Rel(fr.base, params, fr.base_cols)
        rel.reads.add(fr.base)
        group = {"members": "_unit_e", "leaders": "_unit_e", "children": "_parent_e"}[coll.kind]
        scan = Scan(key, table, rel, coll, ident(group), "entity", False, owner_base=owner_base)
        scan.top_filter.append(f"{ident(group)} IS NOT NULL")
        if coll.kind == "leaders":
            scan.top_filter.append(ident("_leader"))
        return scan

    def _row_scope(self, scan: Scan, consumer: Scope) -> Scope:
        coll = scan.coll
        if coll.kind == "input":
            owner = None
            if not scan.shared:
                alias = scan.rel.join(("owner",), scan.owner_base, f'{{a}}."id" = b.{scan.group}', "o")
                owner = Anchor(alias, "_e")
            return Scope(scan.rel, "input", None, input=coll.source, prefix=coll.path, outer=consumer,
                         owner=owner, pure=scan.shared)
        if coll.kind == "periods":
            alias = scan.rel.join(("owner",), scan.owner_base, f'{{a}}."id" = b."id"', "o")
            return Scope(scan.rel, "periods", coll.owner, prefix=coll.path, outer=consumer,
                         owner=Anchor(alias, "_e"), pure=False)
        group = "_unit_e" if coll.kind in ("members", "leaders") else "_parent_e"
        return Scope(scan.rel, "entity", coll.source, narrow=coll.narrow, prefix=coll.path, outer=consumer,
                     owner=Anchor("b", group), pure=False)

    def _agg_columns(self, e: n.Call, func: str, arg, coll: Coll, rest: tuple[str, ...], scan: Scan,
                     consumer: Scope, stats: bool) -> dict[str, tuple[str, str]]:
        row = self._row_scope(scan, consumer)
        if coll.narrow is not None:
            on = self.read(row, coll.source, SELF, f"s:{coll.narrow}:on", e)
            if on.sql not in scan.top_filter:
                scan.top_filter.append(on.sql)
        key_base = (func, arg, e.where, e.deduction)
        wanted: dict[str, tuple[str, str]] = {}
        where = None
        if e.where is not None:
            w = self.expr(e.where, row)
            where = self.lift(row.rel, w, "w") if not w.simple else w

        def agg(tag: str, sql_fn: str, kind: str) -> None:
            key = key_base + (tag,)
            found = scan.aggs.get(key)
            if found is None:
                column = f"a{len(scan.aggs)}"
                scan.aggs[key] = (column, kind)
                scan.select.append(f"{sql_fn} AS {ident(column)}")
                found = scan.aggs[key]
            wanted[tag] = found

        filt = f" FILTER (WHERE {where.sql})" if where is not None else ""
        value = None
        if rest:
            value = self.expr(arg, row) if rest == ("*",) else self._row_path(row, rest, e)
        if e.deduction is not None:
            value = self._deduct(value, e.deduction, row, e)
        if value is not None:
            if value.kind not in ("int", "dec", "date", "null") and func != "count":
                raise CompileError(f"`{func}` needs numbers", e.span)
            value = value if value.simple else self.lift(row.rel, value, "v")
        if func == "count":
            agg("value", f"count({value.sql if value is not None else '*'}){filt}", "int")
        elif func == "share":
            if where is None:
                agg("value", "count(*)", "int")
            else:
                agg("value", f"count(*){filt}", "int")
            agg("rows", "count(*)", "int")
        elif value is None:
            raise CompileError(f"`{func}` needs a column, such as `tasks.coefficient`", e.span)
        else:
            summed = value.sql
            if func in ("sum", "mean"):
                agg("value", f"sum({summed}){filt}", "int" if value.kind == "int" else "dec")
                if func == "mean":
                    agg("rows", f"count({value.sql}){filt}", "int")
            else:
                agg("value", f"{func}({summed}){filt}", value.kind)
        if stats:
            agg("total", "count(*)", "int")
            agg("matched", f"count(*){filt}", "int")
        return wanted

    def _row_path(self, row: Scope, rest: tuple[str, ...], e: n.Node) -> V:
        target = ("row", row)
        for part in rest:
            target = self._member(target, part, row, e)
        if isinstance(target, Ent):
            # `count(members.unit)`: the rows whose related unit exists.
            return self.anchor_value(row, target.anchor)
        if not isinstance(target, V):
            raise CompileError("an aggregate needs one value per row", e.span)
        return target

    def _deduct(self, value: V | None, d: n.Deduction, row: Scope, e: n.Call) -> V:
        """value x (1 - min(cap, rate x per)), unless the waiver holds; exact, without rounding each row."""
        if value is None:
            raise CompileError("a deduction needs a column to reduce, such as `tasks.coefficient`", e.span)
        per = self.expr(d.per, row)
        if per.kind not in ("int", "dec"):
            raise CompileError("`per` must name a number of each row", d.per.span)
        rate = self.number(row.rel, d.rate.value)
        cap = self.number(row.rel, d.cap.value) if d.cap is not None else self.param(row.rel, 1, "int")
        # A row without a count has nothing to deduct.
        per = V(f"coalesce({per.sql}, 0)", per.kind, per.deps, scale=per.scale)
        lower, upper = self.common([cap, self.multiply(rate, per)])
        least = V(f"least({lower.sql}, {upper.sql})", lower.kind, lower.deps | upper.deps, scale=lower.scale)
        factor = self.add(self.param(row.rel, 1, "int"), least, "-")
        reduced = self.multiply(value, factor)
        if d.unless is not None:
            waived = self.expr(d.unless, row)
            kept, cut = self.common([value, reduced])
            return V(f"(CASE WHEN coalesce({waived.sql}, FALSE) THEN {kept.sql} ELSE {cut.sql} END)",
                     "dec", _deps([waived, kept, cut]), scale=kept.scale)
        return reduced

    def _agg_value(self, func: str, reads: dict[str, V], s: Scope) -> V:
        value = reads["value"]
        if func in ("count", "sum"):
            zero = "0" if value.kind == "int" else D.dec("0")
            return V(f"coalesce({value.sql}, {zero})", value.kind, value.deps)
        if func == "mean":
            return self.divide(s.rel, value, reads["rows"])
        if func == "share":
            return self.divide(s.rel, value, reads["rows"])
        return self.as_dec(value) if value.kind == "dec" else value


def field_value(f: n.Field, sql: str, deps: frozenset[str]) -> V:
    kind = _KINDS.get(f.type.base, "text")
    if kind == "dec":
        # Loaded numbers are DECIMAL(38,10); they are widened only where a value needs it.
        return V(sql, "dec", deps, simple=True, scale=10)
    return V(sql, kind, deps, simple=True)


def _deps(values) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for v in values:
        out |= v.deps
    return out


def _rows(s: Scope):
    while s is not None and s.kind != "frame":
        yield s
        s = s.outer


def _same_rows(row: Scope, sym: tuple, entity: str) -> bool:
    if sym[0] == "input":
        return row.kind == "input" and row.input == sym[1]
    if sym[0] == "coll":
        source = "units" if sym[1] == "children" else "people"
        return row.kind == "entity" and row.entity == source
    return False


def _names_in(e: n.Node):
    from kpidsl.check.scope import walk
    for node in walk(e):
        if isinstance(node, n.Name):
            yield node


def _decimal(value: Any) -> tuple[Decimal, int]:
    """A decimal number and its places: exact when it has at most 12, else rounded half-up at 12."""
    frac = Fraction(value)
    for places in range(D.SCALE + 1):
        scaled = frac * 10 ** places
        if scaled.denominator == 1:
            return Decimal(scaled.numerator).scaleb(-places), places
    return _py(value, "dec"), D.SCALE


def _py(value: Any, kind: str) -> Any:
    """A Python value to bind: decimals exact (a fraction without a finite decimal is rounded at 12 places)."""
    if kind == "dec":
        frac = Fraction(value)
        scaled = frac * 10 ** D.SCALE
        q, r = divmod(abs(scaled.numerator), scaled.denominator)
        if 2 * r >= scaled.denominator:
            q += 1
        q = -q if frac < 0 else q
        return Decimal(q).scaleb(-D.SCALE)
    if kind == "int":
        return int(value)
    if kind == "date":
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))
    return str(value)
