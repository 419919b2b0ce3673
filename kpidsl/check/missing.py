"""Checker pass: missing — a criterion whose value can be missing needs a declared `missing` policy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import Analysis
from kpidsl.semantic.walk import text_of
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

_POLICY_HELP = ("add `missing zero` to {where} (or `renormalise` or `fail`) to say what a missing value "
                "counts for")


@dataclass(frozen=True)
class Reason:
    """Why a value can be missing, and the expression to point at."""

    span: Span
    text: str
    cause: str = ""            # the first cause, found through measures without a policy
    source: str | None = None  # the measure whose own expression holds that cause

    def __post_init__(self) -> None:
        if not self.cause:
            object.__setattr__(self, "cause", self.text)


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    finder = _Missing(program, scope_of(ctx))
    for score in program.scores.values():
        yield from finder.block(score, score.missing)


class _Missing:
    def __init__(self, program: Program, scope: Analysis) -> None:
        self.program = program
        self.scope = scope
        self.measures: dict[str, Reason | None] = {}
        # Measures in dependency order, so a measure's answer is known before it is read.
        for name in scope.measure_order:
            self.measures[name] = self.reason(program.measures[name].expr, frozenset())

    def block(self, block: n.Score | n.Group, policy: str | None) -> Iterator[Diagnostic]:
        stack: list[tuple[n.Node, str | None]] = [(item, policy) for item in reversed(block.items)]
        while stack:
            item, inherited = stack.pop()
            if isinstance(item, n.Group):
                stack.extend((child, item.missing or inherited) for child in reversed(item.items))
            elif isinstance(item, n.Criterion) and not (item.missing or inherited):
                yield from self._report(f"criterion `{item.name}`", item.expr, "it, its group or its score")
            elif isinstance(item, n.Adjustment) and not inherited:
                yield from self._report(f"{item.kind} `{item.name}`", item.expr, "its group or score")

    def _report(self, what: str, expr: n.Node, where: str) -> Iterator[Diagnostic]:
        found = self.reason(expr, frozenset())
        if found is not None:
            yield Diagnostic("KPI090", f"{what} can be missing: {found.text}", found.span,
                             notes=("no `missing` policy is set on it, its measures, its groups or its score",),
                             help=_POLICY_HELP.format(where=where))

    # ------------------------------------------------------------ can this be missing?
    def reason(self, e: n.Node, present: frozenset) -> Reason | None:
        """Why `e` can be missing; `present` holds names known to be given here (`x is not missing`)."""
        if isinstance(e, n.Name):
            return self._name(e, present)
        if isinstance(e, (n.Neg, n.Not)):
            return self.reason(e.operand, present)
        if isinstance(e, n.Arith):
            return self._arith(e, present)
        if isinstance(e, n.BoolOp):
            known = present
            for operand in e.operands:
                found = self.reason(operand, known)
                if found is not None:
                    return found
                # `x is not missing and x > 0`: later operands run only when earlier ones allow.
                known = known | facts(operand, e.op == "and")
            return None
        if isinstance(e, n.Compare):
            return self.reason(e.left, present) or self.reason(e.right, present)
        if isinstance(e, n.InList):
            return self.reason(e.operand, present)
        if isinstance(e, n.If):
            return (self.reason(e.cond, present) or self.reason(e.then, present | facts(e.cond, True))
                    or self.reason(e.otherwise, present | facts(e.cond, False)))
        if isinstance(e, n.Call):
            return self._call(e, present)
        return None

    def _name(self, e: n.Name, present: frozenset) -> Reason | None:
        ref = self.scope.refs.get(id(e))
        if ref is None or ref.in_row or e.parts in present:
            return None
        if ref.type.kind in ("collection", "column", "entity", "narrow"):
            return None
        if ref.related:
            return Reason(e.span, f"`{e.dotted}` belongs to `{e.parts[0]}`, which may not exist or may have no value")
        if ref.optional:
            return Reason(e.span, f"`{e.dotted}` is an optional field")
        if ref.sym.kind == "measure" and len(e.parts) == 1:
            measure = self.program.measures.get(ref.sym.name)
            if measure is None or measure.missing in ("zero", "fail"):
                return None
            if measure.missing == "skip":
                return Reason(e.span, f"measure `{measure.name}` is declared `missing skip`")
            inner = self.measures.get(measure.name)
            if inner is not None:
                # A long chain of measures is told by its first link and its cause, not link by link.
                source = inner.source or measure.name
                via = "" if inner.source is None else f"reads measure `{source}`, where "
                return Reason(e.span, f"measure `{measure.name}` has no `missing` policy and {via}{inner.cause}",
                              inner.cause, source)
        return None

    def _arith(self, e: n.Arith, present: frozenset) -> Reason | None:
        for i, operand in enumerate(e.operands):
            found = self.reason(operand, present)
            if found is not None:
                return found
            if i and e.ops[i - 1] == "/" and not (isinstance(operand, n.Num) and operand.value != 0):
                return Reason(operand.span, f"`{text_of(e)}` divides by `{text_of(operand)}`, which can be 0")
        return None

    def _call(self, e: n.Call, present: frozenset) -> Reason | None:
        if e.args and (e.func == "share" or (e.func in ("mean", "min", "max") and len(e.args) == 1)):
            return Reason(e.span, f"`{text_of(e)}` has no value when {self._no_rows(e)}")
        if e.func in ("min", "max", "round", "abs"):
            for arg in e.args:
                found = self.reason(arg, present)
                if found is not None:
                    return found
        return None

    def _no_rows(self, e: n.Call) -> str:
        arg = e.args[0]
        collection = text_of(arg)
        if isinstance(arg, n.Name) and self.scope.type_of(arg).kind == "column":
            collection = ".".join(arg.parts[:-1])
        if e.where is not None:
            return f"no row of `{collection}` meets the `where`"
        return f"`{collection}` has no rows"


def facts(cond: n.Node, holds: bool) -> frozenset:
    """Names known to be given when `cond` is true (holds) or false."""
    if isinstance(cond, n.IsMissing) and isinstance(cond.operand, n.Name):
        return frozenset({cond.operand.parts}) if cond.negated == holds else frozenset()
    if isinstance(cond, n.Not):
        return facts(cond.operand, not holds)
    if isinstance(cond, n.BoolOp) and (cond.op == "and") == holds:
        out: frozenset = frozenset()
        for operand in cond.operands:
            out |= facts(operand, holds)
        return out
    return frozenset()
