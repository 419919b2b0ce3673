"""Checker pass: limits — shapes the language can say but the engine does not compute, each with a way to write it.

Everything that checks clean must run: what the engine cannot compute is refused
here, at the place it is written, rather than when the period is scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.graph import Edges, graph_of, strongly_connected
from kpidsl.semantic.names import rollup_for
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import COLLECTION_AGGREGATES, Analysis, NodeKey, describe, describe_node
from kpidsl.semantic.walk import children, word_span
from kpidsl.syntax import nodes as n

_WHO = {"people": "person", "units": "unit"}


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    a = scope_of(ctx)
    found: list[Diagnostic] = []
    found.extend(_reach_out(a))
    found.extend(_refs(program, a))
    found.extend(_tree_quotas(program, graph_of(ctx).edges))
    found.extend(_rollup_reads(program, a))
    found.extend(_rollup_scores(program))
    found.extend(_keys(program))
    found.extend(_leader_when(program, a))
    found.extend(_missing_zero(program, a))
    return found


# ---------------------------------------------------------------- nested aggregates
def _reach_out(a: Analysis) -> Iterator[Diagnostic]:
    for e, kind in a.reach_out:
        if kind == "row":
            yield Diagnostic(
                "KPI034", f"`{e.dotted}` is a value of the rows of an enclosing aggregate; an aggregate inside "
                          "another can only read its own rows", e.span,
                help="compute the inner aggregate as a measure of the outer rows, and read that measure")
        elif kind == "entity":
            yield Diagnostic(
                "KPI034", f"`{e.dotted}` is read from inside an aggregate within an aggregate; there only the "
                          "inner rows can be read", e.span,
                help="compute the inner aggregate as a measure of the outer rows, and read that measure")
        elif kind == "periods":
            yield Diagnostic(
                "KPI034", f"`{e.dotted}` is read inside an aggregate; the periods can only be read by an aggregate "
                          "of their own", e.span,
                help="count the periods beside the other aggregate, e.g. `count(periods) > 1 and count(tasks) > 0`")
        else:
            yield Diagnostic(
                "KPI034", f"`{e.dotted}` is the result being rated; it cannot be read inside an aggregate", e.span,
                help="compare the aggregate with a measure instead, or put the score in a measure of its own")


# ---------------------------------------------------------------- input collections
def _refs(program: Program, a: Analysis) -> Iterator[Diagnostic]:
    seen: set[tuple] = set()
    for e, name, owner in a.collections:
        inp = program.inputs.get(name)
        target = program.entity_input(owner)
        if inp is None or target is None:
            continue
        fields = [f.name for f in inp.fields if f.type.base == "ref" and f.type.ref == target.name]
        if len(fields) == 1 or (id(e), name) in seen:
            continue
        seen.add((id(e), name))
        words = ", ".join(f"`{f}`" for f in fields)
        yield Diagnostic(
            "KPI024", f"input `{name}` refers to {target.name} through {len(fields)} fields ({words}); which "
                      f"rows of `{name}` belong to a {_WHO.get(owner, owner)} is unclear", e.span,
            help=f"keep one `ref {target.name}` field in `{name}` and make the others `text`, or split the input "
                 "into one input per role")


# ---------------------------------------------------------------- quotas along the unit tree
def _tree_quotas(program: Program, edges: Edges) -> Iterator[Diagnostic]:
    reported: set[str] = set()
    for comp in strongly_connected(edges):
        node = next(iter(comp))
        if len(comp) == 1 and node not in edges.get(node, {}):
            continue
        for key in sorted(comp, key=str):
            if key[0] != "rating" or key[1] in reported:
                continue
            rating = program.ratings.get(key[1])
            for quota in (i for i in rating.items if isinstance(i, n.Quota)) if rating else ():
                reported.add(key[1])
                others = sorted(describe_node(k) for k in comp if k != key)
                yield Diagnostic(
                    "KPI063", f"rating `{rating.name}` is decided unit by unit along the unit tree (it reads "
                              "related units' results"
                              + (f": {', '.join(others)}" if others else "") + "), so a quota over it "
                              "cannot be counted", quota.span,
                    help="drop the quota, or decide the rating without reading the results of other units "
                         "(e.g. without `cap parent.rating`)")
                break


# ---------------------------------------------------------------- roll-ups
def _rollup_reads(program: Program, a: Analysis) -> Iterator[Diagnostic]:
    seen: set[int] = set()
    for rollup in program.rollups.values():
        for root in _rollup_roots(program, rollup):
            for e, periods_row in _names(a, root, False):
                if id(e) in seen:
                    continue
                seen.add(id(e))
                d = _rollup_read(program, a, rollup, e, periods_row)
                if d is not None:
                    yield d


def _rollup_roots(program: Program, rollup: n.Rollup) -> Iterator[n.Node]:
    for item in rollup.items:
        if isinstance(item, n.RollupScore):
            yield item.expr
        elif isinstance(item, n.NotEvaluated):
            yield item.when
        elif isinstance(item, n.UseRating) and item.name in program.ratings:
            for r in program.ratings[item.name].items:
                for attr in ("when", "against", "per"):
                    node = getattr(r, attr, None)
                    if node is not None:
                        yield node


def _names(a: Analysis, e: n.Node, periods_row: bool) -> Iterator[tuple[n.Name, bool]]:
    """Each name under e, and whether it is read inside an aggregate over `periods`."""
    if isinstance(e, n.Name):
        yield e, periods_row
        return
    if isinstance(e, n.Call) and e.args and (e.func in COLLECTION_AGGREGATES
                                             or (e.func in ("min", "max") and len(e.args) == 1)):
        arg = e.args[0]
        yield from _names(a, arg, periods_row)
        t = a.type_of(arg)
        inner = t.row is not None and t.row.kind == "periods"
        d = e.deduction
        for part in (e.where, d.per if d else None, d.unless if d else None):
            if part is not None:
                yield from _names(a, part, inner)
        return
    for node in children(e):
        yield from _names(a, node, periods_row)


def _rollup_read(program: Program, a: Analysis, rollup: n.Rollup, e: n.Name,
                 periods_row: bool) -> Diagnostic | None:
    ref = a.refs.get(id(e))
    if ref is None or e.parts[0] == "periods" or (periods_row and ref.in_row):
        return None
    sym = ref.sym
    if sym.kind == "measure" and not ref.in_row:
        reads = _measure_reads_results(a, sym.name)
        if reads is not None:
            return Diagnostic(
                "KPI025", f"roll-up `{rollup.name}` reads measure `{sym.name}`, which reads {describe_node(reads)}; "
                          f"a roll-up computes measures over the whole {rollup.per}, where there is no such "
                          "result", e.span,
                help=f"read the measure of each period instead, e.g. `mean(periods.{sym.name})`")
    if sym.kind == "criterion":
        return Diagnostic(
            "KPI025", f"roll-up `{rollup.name}` reads criterion `{e.dotted}`, which a roll-up does not have",
            e.span, help="read the criterion of each period through a measure, e.g. `mean(periods.MEASURE)`")
    if id(e) in a.narrowed:
        return Diagnostic(
            "KPI025", f"roll-up `{rollup.name}` reads `{e.dotted}`, the group a score takes, which a roll-up over "
                      f"the whole {rollup.per} does not have", e.span,
            help="count or read the group in a measure, and read that measure of each period, e.g. "
                 "`min(periods.MEASURE)`")
    if sym.kind == "result" and (ref.related or ref.in_row) and sym.deps and sym.deps[0][-2] == "score":
        # Still a period's result: the entity has no roll-up (or rating) over this period to read instead.
        dep = sym.deps[0]
        score = program.scores.get(dep[1] if dep[0] == "score" else dep[3])
        entity = score.entity if score is not None else None
        other = rollup_for(program, entity, rollup.per) if entity else None
        if other is None:
            return Diagnostic(
                "KPI025", f"roll-up `{rollup.name}` reads `{e.dotted}`, but {entity} have no roll-up to read "
                          "it from", e.span,
                help=f"declare a roll-up for {entity} per {rollup.per}, or read a value of each period through "
                     "`periods`")
        if sym.name == "rating" and not any(isinstance(i, n.UseRating) for i in other.items):
            return Diagnostic(
                "KPI025", f"roll-up `{rollup.name}` reads `{e.dotted}`, but roll-up `{other.name}` of {entity} "
                          "has no rating", e.span,
                help=f"give roll-up `{other.name}` a rating, or compare its score instead")
    return None


def _measure_reads_results(a: Analysis, measure: str) -> NodeKey | None:
    """The first score, rating or roll-up a measure reads, however indirectly (None: only data)."""
    todo, seen = [("measure", measure)], set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        for dep in sorted(a.edges.get(key, {}), key=str):
            if dep[0] != "measure":
                return dep
            todo.append(dep)
    return None


def _rollup_scores(program: Program) -> Iterator[Diagnostic]:
    for rollup in program.rollups.values():
        if not any(isinstance(i, n.RollupScore) for i in rollup.items):
            yield Diagnostic(
                "KPI025", f"roll-up `{rollup.name}` has no `score = ...`; a roll-up's result is its score",
                rollup.name_span or rollup.span,
                help="give it a score over its periods, e.g. `score = mean(periods.score)`")


# ---------------------------------------------------------------- entities
def _keys(program: Program) -> Iterator[Diagnostic]:
    for entity in ("units", "people"):
        decl = program.units if entity == "units" else program.people
        inp = program.entity_input(entity) if decl is not None else None
        if inp is not None and not inp.key:
            who = _WHO[entity]
            yield Diagnostic(
                "KPI026", f"{entity} come from input `{inp.name}`, which has no `key`; each {who} is told apart "
                          "by it", inp.name_span or inp.span,
                help=f"name the field that identifies a {who} after the input's name, e.g. "
                     f"`input {inp.name} key {who}_id {{`")


_NOT_A_FIELD = {"measure": "a measure", "collection": "a collection of rows", "relation": "a related entity",
                "result": "a result", "criterion": "a criterion", "narrow": "a group of people",
                "periods": "the periods"}


def _leader_when(program: Program, a: Analysis) -> Iterator[Diagnostic]:
    """Who leads a unit is decided from each person's own fields, before anything is computed."""
    cond = program.people.leader_when if program.people is not None else None
    stack = [cond] if cond is not None else []
    while stack:
        e = stack.pop()
        stack.extend(reversed(list(children(e))))
        ref = a.refs.get(id(e)) if isinstance(e, n.Name) else None
        if ref is None or (ref.sym.kind in ("field", "enum_value") and not ref.related):
            continue
        what = ("a field of a related entity" if ref.sym.kind == "field"
                else _NOT_A_FIELD.get(ref.sym.kind, "not a field"))
        yield Diagnostic(
            "KPI027", f"`leader when` reads `{e.dotted}`, which is {what}; who leads a unit is decided from "
                      "each person's own fields, before anything is computed", e.span,
            help="write the condition over the fields of the person, e.g. `role in [deputy, head]`, or add a "
                 "field to the input that says who leads")
        return


# ---------------------------------------------------------------- missing zero
def _missing_zero(program: Program, a: Analysis) -> Iterator[Diagnostic]:
    for m in program.measures.values():
        if m.missing != "zero":
            continue
        t = a.measure_types.get(m.name) or a.type_of(m.expr)
        t = t.scalar()
        if t.numeric or t.kind in ("bool", "unknown", "column", "collection", "entity"):
            continue
        yield Diagnostic(
            "KPI030", f"measure `{m.name}` is {describe(t)}, which has no zero; `missing zero` needs a number "
                      "or a true/false value", word_span(m.span, r"\b(missing\s+zero)\b"),
            help=f"write `missing skip` and test `{m.name} is missing` where it is read, or `missing fail`")
