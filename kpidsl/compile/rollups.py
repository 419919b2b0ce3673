"""Roll-ups to SQL: a longer period's result (a year) from the results of the framework's periods (quarters).

After each period is scored, its results are appended to `kpi_run.period_results`
(with the per-period values the roll-up reads, such as a measure of each quarter).
The roll-up then has frames of its own over the whole longer period: `periods` is
a collection over those kept results, measures are computed over the whole
period's rows, and the rating works as in a period, with the roll-up's score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpidsl.compile import columns as C
from kpidsl.compile.frame import PERIOD_RESULTS, SELF, CompileError, Scope, work_table
from kpidsl.compile.names import Coll
from kpidsl.compile.results import (
    TABLES,
    _entities_rollup,
    _measure,
    final_frame,
    insert,
    quota_rows,
    rating_steps,
    table,
)
from kpidsl.compile.values import V, _deps, sql_type
from kpidsl.plan import RollupPlan, Step
from kpidsl.semantic.names import rollup_for
from kpidsl.semantic.scope import walk
from kpidsl.sql.quoting import Params, ident
from kpidsl.syntax import nodes as n

if TYPE_CHECKING:  # pragma: no cover
    from kpidsl.compile.planner import PlanCompiler


class RollupResults:
    """`score` and `rating` of related entities in a roll-up: their own roll-up's results (see `rollup_for`)."""

    def __init__(self, pc: PlanCompiler, per: str) -> None:
        self.pc = pc
        self.per = per

    def entity_levels(self, entity: str) -> tuple[str, ...]:
        rollup = rollup_for(self.pc.p, entity, self.per)
        rating = _rating_of(rollup) if rollup is not None else None
        if rating is None or rating not in self.pc.p.ratings:
            return ()
        return tuple(dict.fromkeys(i.name for i in self.pc.p.ratings[rating].items if isinstance(i, n.Level)))

    def _rollup(self, entity, e):
        rollup = rollup_for(self.pc.p, entity, self.per)
        if rollup is None:
            raise CompileError(f"{entity} have no roll-up result to read here", getattr(e, "span", None))
        return rollup

    def score(self, ec, s, entity, anchor, narrow, e) -> V:
        rollup = self._rollup(entity, e)
        return ec.read(s, entity, anchor, C.rollup(rollup.name, "score"), e)

    def rating(self, ec, s, entity, anchor, narrow, e) -> V:
        rollup = self._rollup(entity, e)
        rating = _rating_of(rollup)
        if rating is None:
            raise CompileError(f"roll-up `{rollup.name}` has no rating", getattr(e, "span", None))
        v = ec.read(s, entity, anchor, C.rating(rating, rollup.name, "final"), e)
        return V(v.sql, "level", v.deps, simple=True, levels=self.entity_levels(entity))

    def criterion(self, ec, s, entity, anchor, name, narrow, e) -> V:
        raise CompileError(f"criterion `{name}` has no value in a roll-up", getattr(e, "span", None))


def _rating_of(rollup: n.Rollup) -> str | None:
    return next((i.name for i in rollup.items if isinstance(i, n.UseRating)), None)


def compile_rollups(pc: PlanCompiler) -> list[RollupPlan]:
    out = []
    kinds = sorted({r.per for r in pc.p.rollups.values()})
    for per in kinds:
        out.append(_compile_per(pc, per, [r for r in pc.p.rollups.values() if r.per == per]))
    return out


def _compile_per(pc: PlanCompiler, per: str, rollups: list[n.Rollup]) -> RollupPlan:
    frames = pc._frames(f"y{per}:")
    pc.rollup_frames = frames
    ec = pc._expr_compiler(frames, f"y{per}")
    ec.results = RollupResults(pc, per)
    ec.periods_table = PERIOD_RESULTS
    saved_steps = pc.steps
    pc.steps = []
    steps: list[Step] = pc._base_steps(frames)
    measures = _measures_needed(pc, rollups)
    order = [k for k in pc._order_flat() if k[0] == "measure" and k[1] in measures]
    measure_cols = dict(pc.measure_cols)
    for key in order:
        measure = pc.p.measures[key[1]]
        for dep in pc.a.edges.get(key, {}):
            if dep[0] != "measure":
                raise CompileError(f"measure `{measure.name}` reads {dep[0]} `{dep[1]}`, which a roll-up over "
                                   f"the whole {per} does not have", measure.span)
        pc._node(key, frames, ec)
    # The roll-ups and their ratings in the order of the dependency graph: a person's yearly rating capped
    # at `unit.rating` comes after the units' roll-up, wherever each is declared.
    names = {r.name for r in rollups}
    keep = {k for k in pc.graph.nodes if k[0] == "rollup" and k[1] in names
            or k[0] == "rating" and k[2] == "rollup" and k[3] in names}
    for group in pc.graph.order(keep):
        if len(group) > 1 or pc._self_loop(group[0]):
            pc._levels(group, frames, ec)   # a unit's year read by the units around it: one depth at a time
        else:
            pc._node(group[0], frames, ec)
    rating_cols = {k[3]: cols for k, cols in pc.rating_cols.items() if k[2] == "rollup" and k[3] in names}
    for e in pc.entities:
        pc.flush(frames[e])
    body = pc.steps
    pc.steps = saved_steps
    scans = [pc._scan_step(scan) for scan in ec.shared.values() if scan.aggs]
    pc.measure_cols = measure_cols
    capture = _capture(pc, rollups, ec)
    results = _results(pc, frames, rollups, rating_cols, measures)
    pc.rollup_frames = {}
    return RollupPlan(per=per, names=tuple(r.name for r in rollups), capture=tuple(capture),
                      steps=tuple(steps + scans + body), results=tuple(results))


def _measures_needed(pc: PlanCompiler, rollups: list[n.Rollup]) -> set[str]:
    """Measures read outside `periods` rows by the roll-ups and their ratings, and the measures those read."""
    roots: list[n.Node] = []
    for rollup in rollups:
        for item in rollup.items:
            if isinstance(item, n.RollupScore):
                roots.append(item.expr)
            elif isinstance(item, n.NotEvaluated):
                roots.append(item.when)
            elif isinstance(item, n.UseRating) and item.name in pc.p.ratings:
                for r in pc.p.ratings[item.name].items:
                    for attr in ("when", "against"):
                        node = getattr(r, attr, None)
                        if node is not None:
                            roots.append(node)
    found: set[str] = set()
    todo = list(roots)
    while todo:
        expr = todo.pop()
        for node in walk(expr):
            if not isinstance(node, n.Name):
                continue
            ref = pc.a.refs.get(id(node))
            # `periods.m` is each period's own value of m, kept from the periods' runs.
            if ref is None or ref.sym.kind != "measure" or ref.in_row or node.parts[0] == "periods":
                continue
            if ref.sym.name not in found and ref.sym.name in pc.p.measures:
                found.add(ref.sym.name)
                todo.append(pc.p.measures[ref.sym.name].expr)
    return found


def compile_rollup(ec, scope: Scope, rollup: n.Rollup) -> list[str]:
    """A roll-up's score, status and reason columns; returns the columns it keeps."""
    rel = scope.rel
    fr_entity = scope.entity
    assert fr_entity is not None
    prefix = C.rollup_prefix(rollup.name)
    assert scope.periods
    outputs: list[str] = []

    def col(name: str, v: V) -> V:
        full = rel.add(prefix + name, v.sql, v.deps, v.kind, v.levels)
        outputs.append(full)
        return V(ident(full), v.kind, frozenset({full}), simple=True, levels=v.levels)

    # Scored periods only; a period whose result was an error makes the roll-up an error.
    scan = ec.scan_for(Coll("periods", fr_entity, fr_entity, SELF, path=("periods",)), scope, "attached")
    if '"status" <> \'not_scored\'' not in scan.top_filter:
        scan.top_filter.append('"status" <> \'not_scored\'')
    key = ("~errors",)
    if key not in scan.aggs:
        scan.aggs[key] = ("errors", "int")
        scan.select.append('count(*) FILTER (WHERE "status" = \'error\') AS "errors"')
    alias = rel.join(("scan", scan.table, SELF.sql), scan.table, f'{{a}}."_owner" = {SELF.sql}', "a")
    errors = rel.pull(alias, "errors", f"{alias}.errors")
    score_item = next((i for i in rollup.items if isinstance(i, n.RollupScore)), None)
    if score_item is None:
        raise CompileError(f"roll-up `{rollup.name}` has no `score = ...`", rollup.span)
    exact = ec.expr(score_item.expr, scope)
    if exact.kind not in ("int", "dec"):
        raise CompileError("a roll-up's score must be a number", score_item.span)
    exact = col("exact", ec.as_dec(exact))
    rounded = ec.round_to(rel, exact, ec.places)
    skip = next((i for i in rollup.items if isinstance(i, n.NotEvaluated)), None)
    if skip is not None:
        cond = ec.expr(skip.when, scope)
        skipped = col("not_evaluated", V(f"coalesce({cond.sql}, FALSE)", "bool", cond.deps))
    else:
        skipped = V("FALSE", "bool", simple=True)
    errs = V(f"coalesce({ident(errors)}, 0)", "int", frozenset({errors}))
    reason = col("reason", V(
        f"CASE WHEN {skipped.sql} THEN NULL "
        f"WHEN {errs.sql} > 0 THEN {ec.param(rel, 'a period result is an error', 'text').sql} "
        f"WHEN {exact.sql} IS NULL THEN {ec.param(rel, 'the roll-up score has no value', 'text').sql} END", "text",
        _deps([skipped, errs, exact])))
    status = col("status", V(f"CASE WHEN {skipped.sql} THEN 'not_evaluated' WHEN {reason.sql} IS NOT NULL "
                             f"THEN 'error' ELSE 'ok' END", "text", _deps([skipped, reason])))
    col("score", V(f"CASE WHEN {status.sql} = 'ok' THEN {rounded.sql} END", "dec", status.deps | rounded.deps))
    return outputs


def _capture(pc: PlanCompiler, rollups: list[n.Rollup], ec) -> list[Step]:
    """Create the period results table; after each period, append that period's results to it."""
    extra = sorted(ec.period_cols.items())
    cols = [(c, t) for c, t in TABLES["periods"] if c != "period"]
    body = ", ".join([f"{ident('period')} VARCHAR"] + [f"{ident(c)} {t}" for c, t in cols]
                     + [f"{ident(c)} {sql_type(info.kind)}" for c, info in extra])
    out = [Step("period results", "capture", f"CREATE OR REPLACE TABLE {PERIOD_RESULTS} ({body})",
                creates=PERIOD_RESULTS)]
    for entity in sorted({r.entity for r in rollups}):
        if entity not in pc.frames:
            continue
        final = work_table(f"{entity}:final")
        out.extend(final_frame(pc.frames[entity], pc.frames.get("units"), final))
        params = Params("c")
        from kpidsl.compile.results import _entities
        select = _entities(pc, entity, final, params)
        picks = ", ".join(f"f.{ident(c)}" for c, _ in extra if _has(pc, entity, c))
        missing = ", ".join(f"CAST(NULL AS {sql_type(info.kind)}) AS {ident(c)}" for c, info in extra
                            if not _has(pc, entity, c))
        chosen = ", ".join(x for x in (picks, missing) if x)
        sql = (f"INSERT INTO {PERIOD_RESULTS} SELECT CAST($period AS VARCHAR), r.\"entity\", r.\"id\", "
               f"r.\"score_name\", r.\"status\", r.\"score\", r.\"rating\", r.\"reason\""
               + (f", {chosen}" if chosen else "")
               + f" FROM ({select}) AS r JOIN {final} AS f ON f.\"id\" = r.\"id\"")
        from kpidsl.compile.planner import bind
        out.append(Step(f"keep {entity} results of the period", "capture", sql, bind(sql, params),
                        entity=entity, reads=(final,)))
    return out


def _has(pc: PlanCompiler, entity: str, column: str) -> bool:
    fr = pc.frames[entity]
    return column in fr.tables or column in fr.base_cols


def _results(pc: PlanCompiler, frames, rollups, rating_cols, measures: set[str]) -> list[Step]:
    from kpidsl.compile.results import create_steps
    out = create_steps()
    finals = {}
    for e in pc.entities:
        finals[e] = work_table(f"y:{e}:final")
        out.extend(final_frame(frames[e], frames.get("units"), finals[e]))
    params = Params("r")
    selects = [_entities_rollup(pc, r, rating_cols.get(r.name), finals[r.entity], params) for r in rollups
               if r.entity in finals]
    out.extend(insert("entities", selects, params))
    params = Params("r")
    selects = [_measure(pc.p.measures[m], pc.measure_cols[m], finals[pc.p.measures[m].entity], params)
               for m in pc.p.measures if m in measures and m in pc.measure_cols]
    out.extend(insert("measures", selects, params))
    params = Params("r")
    selects = []
    for cols in rating_cols.values():
        selects.extend(rating_steps(cols, finals[cols.entity], params))
    out.extend(insert("rating_steps", selects, params))
    params = Params("r")
    selects = []
    for cols in rating_cols.values():
        selects.extend(quota_rows(cols, finals[cols.entity], params))
    out.extend(insert("quota", selects, params))
    cols = ", ".join(ident(c) for c, _ in TABLES["periods"])
    out.append(Step("results periods", "results",
                    f"INSERT INTO {table('periods')} SELECT {cols} FROM {PERIOD_RESULTS} "
                    f"ORDER BY entity, id, period, score_name", creates=table("periods")))
    return out
