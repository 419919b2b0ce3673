"""Compile a checked Program into a Plan: base tables, grouped scans, stages of measures, scores and ratings.

Measures, who each score takes, scores, ratings and roll-ups are compiled in the
order of the dependency graph (semantic/graph.py, the one the checker reports
cycles from; ties broken by where they are declared). Everything one entity
computes goes into its current stage; a stage is written out just before a rule
that reads one of its values across entities or inside an aggregate (the
analysis's `table_reads`), so the central frame runs in a handful of statements
however many measures it has. A group of unit rules that read each
other along the unit tree (a unit from its children) becomes a `levels` step,
computed one depth of the tree at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kpidsl.compile import columns as C
from kpidsl.compile.aggregates import Scan
from kpidsl.compile.columns import NodeColumns
from kpidsl.compile.expressions import ExprCompiler
from kpidsl.compile.frame import SELF, SOURCE, ColInfo, CompileError, Frame, Scope, Stage, work_table
from kpidsl.compile.names import Names
from kpidsl.compile.ratings import RatingCols, RatingCompiler
from kpidsl.compile.relation import Rel
from kpidsl.compile.scores import ScoreCols, ScoreCompiler, population
from kpidsl.compile.values import V, _deps, sql_type
from kpidsl.plan import Plan, RollupPlan, Rule, Step
from kpidsl.semantic.graph import declaration, dependency_graph
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import Analysis, NodeKey
from kpidsl.semantic.types import describe_node
from kpidsl.sql import decimal as D
from kpidsl.sql.quoting import Params, ident, qualified
from kpidsl.syntax import nodes as n

DEFAULT_ROUNDING = (2, "half_up")


def compile_program(program: Program, analysis: Analysis) -> Plan:
    """The Plan that scores a period with `program` (and rolls periods up, if it has rollups)."""
    return PlanCompiler(program, analysis).build()


def bind(sql: str, params: Params) -> dict:
    """Only the parameters the statement uses (DuckDB refuses unused ones)."""
    import re

    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in params.values.items() if k in used}


def step(name: str, kind: str, sql: str, params: Params | None = None, **kw) -> Step:
    return Step(name=name, kind=kind, sql=sql, params=bind(sql, params) if params is not None else {}, **kw)


@dataclass
class Results:
    """The result columns of each entity, for `unit.score`, `members.rating` and criterion names."""

    scores: dict[str, list[n.Score]]
    rating_of: dict[str, str]
    ratings: dict[str, n.Rating]

    def entity_levels(self, entity: str) -> tuple[str, ...]:
        out: list[str] = []
        for score in self.scores.get(entity, []):
            r = self.rating_of.get(score.name)
            if r is not None:
                for item in self.ratings[r].items:
                    if isinstance(item, n.Level) and item.name not in out:
                        out.append(item.name)
        return tuple(out)

    def _coalesce(self, ec: ExprCompiler, s: Scope, entity: str, anchor, cols: list[str], kind: str, e) -> V:
        reads = [ec.read(s, entity, anchor, c, e) for c in cols]
        if not reads:
            raise CompileError("there is no such result", getattr(e, "span", None))
        if len(reads) == 1:
            return reads[0]
        return V(f"coalesce({', '.join(r.sql for r in reads)})", kind, _deps(reads), levels=reads[0].levels)

    def score(self, ec, s, entity, anchor, narrow, e) -> V:
        names = [narrow] if narrow else [sc.name for sc in self.scores.get(entity, [])]
        return self._coalesce(ec, s, entity, anchor, [C.score(x, "score") for x in names], "dec", e)

    def rating(self, ec, s, entity, anchor, narrow, e) -> V:
        names = [narrow] if narrow else [sc.name for sc in self.scores.get(entity, [])]
        cols = [C.rating(self.rating_of[x], x, "final") for x in names if x in self.rating_of]
        v = self._coalesce(ec, s, entity, anchor, cols, "level", e)
        return replace(v, kind="level", levels=self.entity_levels(entity))

    def criterion(self, ec, s, entity, anchor, name, narrow, e) -> V:
        cols = []
        for score in self.scores.get(entity, []):
            if narrow not in (None, score.name):
                continue
            for item in _paths(score):
                if item[1].name == name:
                    cols.append(C.item(score.name, item[0], "credit" if isinstance(item[1], n.Criterion)
                                       else "contribution"))
        return self._coalesce(ec, s, entity, anchor, cols, "dec", e)


def _paths(block, prefix: str = ""):
    for item in block.items:
        if isinstance(item, (n.Criterion, n.Group, n.Adjustment)):
            path = f"{prefix}.{item.name}" if prefix else item.name
            yield path, item
            if isinstance(item, n.Group):
                yield from _paths(item, path)


class _Compiled(ExprCompiler):
    """The expression compiler of the plan compiler: attached scans go to the stage that reads them."""

    owner: PlanCompiler

    def on_attached(self, scan: Scan, consumer: Scope) -> None:
        self.owner.attach(scan, consumer)


class PlanCompiler:
    def __init__(self, program: Program, analysis: Analysis) -> None:
        self.p = program
        self.a = analysis
        self.graph = dependency_graph(program, analysis)
        rounding = program.rounding
        self.rounding = (rounding.places, rounding.mode) if rounding is not None else DEFAULT_ROUNDING
        if not 0 <= self.rounding[0] <= D.SCALE:
            raise CompileError(f"rounding to {self.rounding[0]} places is not supported (at most {D.SCALE})",
                               rounding.span if rounding else None)
        if self.rounding[1] not in D.MODES:
            raise CompileError(f"unknown rounding mode `{self.rounding[1]}`", rounding.span if rounding else None)
        self.names = Names(program)
        self.entities = [e for e in ("units", "people") if (program.units if e == "units" else program.people)]
        for e in self.entities:
            inp = program.entity_input(e)
            if inp is None:
                raise CompileError(f"the input {e} come from is not declared",
                                   (program.units if e == "units" else program.people).span)
            if not inp.key:
                raise CompileError(f"input `{inp.name}` needs a `key`: {e} are told apart by it", inp.span)
        self.results = Results({e: self.names.scores_for[e] for e in ("people", "units")}, self.names.rating_of,
                               program.ratings)
        self.steps: list[Step] = []
        self.score_cols: dict[str, ScoreCols] = {}
        self.rating_cols: dict[tuple, RatingCols] = {}
        self.measure_cols: dict[str, dict] = {}
        self.frames = self._frames("")
        self.rollup_frames: dict[str, Frame] = {}   # while a roll-up is compiled
        self.ec = self._expr_compiler(self.frames, "")

    def _frames(self, prefix: str) -> dict[str, Frame]:
        frames = {}
        for e in self.entities:
            inp = self.p.entity_input(e)
            cols = {"_e", "id"} | {C.field(f.name) for f in inp.fields}
            cols |= {"_unit_e", "_leader"} if e == "people" else {"_parent_e", "_depth"}
            frames[e] = Frame(e, work_table(f"{prefix}{e}:base"), frozenset(cols), prefix=prefix)
        return frames

    def _expr_compiler(self, frames, tag: str) -> _Compiled:
        ec = _Compiled(self.p, self.a, frames, self.names, self.rounding, self.results, tag)
        ec.owner = self
        return ec

    # ------------------------------------------------------------ the plan
    def build(self) -> Plan:
        setup = self._base_steps(self.frames)
        order = self._order()
        for group in order:
            if len(group) == 1 and not self._self_loop(group[0]):
                self._node(group[0])
            else:
                self._levels(group)
        for e in self.entities:
            self.flush(self.frames[e])
        scans = [self._scan_step(scan) for scan in self.ec.shared.values() if scan.aggs]
        from kpidsl.compile.results import period_results
        results = period_results(self)
        rollups = self._rollups()
        inputs = tuple(self.p.inputs)
        period_inputs = tuple((i.name, i.period_by) for i in self.p.inputs.values() if i.period_by)
        return Plan(period_kind=self.p.root.period, rounding=self.rounding, setup=tuple(setup),
                    steps=tuple(scans + self.steps), results=tuple(results), rollups=tuple(rollups),
                    inputs=inputs, period_inputs=period_inputs)

    # ------------------------------------------------------------ base tables
    def _base_steps(self, frames: dict[str, Frame]) -> list[Step]:
        out = []
        if "units" in frames:
            out.append(self._units_base(frames["units"]))
        if "people" in frames:
            out.append(self._people_base(frames["people"], frames.get("units")))
        return out

    def _units_base(self, fr: Frame) -> Step:
        decl = self.p.units
        inp = self.p.entity_input("units")
        fields = ", ".join(f'd.{ident(f.name)} AS {ident(C.field(f.name))}' for f in inp.fields)
        parent = f'CAST(d.{ident(decl.parent)} AS VARCHAR)' if decl.parent else "CAST(NULL AS VARCHAR)"
        src = qualified(SOURCE, inp.name)
        sql = (f"CREATE OR REPLACE TABLE {fr.base} AS WITH RECURSIVE "
               f"u AS (SELECT row_number() OVER () AS \"_e\", CAST(d.{ident(inp.key)} AS VARCHAR) AS \"id\", "
               f"{fields}, {parent} AS \"_parent_id\" FROM {src} AS d), "
               f"p AS (SELECT u.*, q.\"_e\" AS \"_parent_e\" FROM u LEFT JOIN u AS q ON q.\"id\" = u.\"_parent_id\"), "
               f"t(e, d) AS (SELECT \"_e\", 0 FROM p WHERE \"_parent_e\" IS NULL UNION ALL "
               f"SELECT p.\"_e\", t.d + 1 FROM p JOIN t ON p.\"_parent_e\" = t.e) "
               f"SELECT p.* EXCLUDE (\"_parent_id\"), t.d AS \"_depth\" FROM p LEFT JOIN t ON t.e = p.\"_e\"")
        return step("units base", "base", sql, entity="units", creates=fr.base, reads=(src,),
                    rules=(Rule("base", "units", decl.span),))

    def _people_base(self, fr: Frame, units: Frame | None) -> Step:
        decl = self.p.people
        inp = self.p.entity_input("people")
        src = qualified(SOURCE, inp.name)
        rel = Rel(src, Params("b"), frozenset(f.name for f in inp.fields) | {"_row"})
        reads = [src]
        if units is not None:
            alias = rel.join(("units",), units.base, f'{{a}}."id" = CAST(b.{ident(decl.member_of)} AS VARCHAR)', "u")
            unit_e = ident(rel.pull(alias, "_e", "~unit_e"))
            reads.append(units.base)
        else:
            unit_e = "CAST(NULL AS BIGINT)"
        leader = "FALSE"
        if decl.leader_when is not None:
            scope = Scope(rel, "input", None, input=inp.name, outer=None, pure=True)
            try:
                v = self.ec.expr(decl.leader_when, scope)
            except Exception as err:
                raise CompileError("`leader when` may only read the fields of people", decl.leader_when.span) from err
            leader = f"coalesce({v.sql}, FALSE)"
        fields = ", ".join(f'{ident(f.name)} AS {ident(C.field(f.name))}' for f in inp.fields)
        select = (f"row_number() OVER () AS \"_e\", CAST({ident(inp.key)} AS VARCHAR) AS \"id\", {fields}, "
                  f"{unit_e} AS \"_unit_e\", {leader} AS \"_leader\"")
        sql = f"CREATE OR REPLACE TABLE {fr.base} AS {rel.sql(select)}"
        return step("people base", "base", sql, rel.params, entity="people", creates=fr.base, reads=tuple(reads),
                    rules=(Rule("base", "people", decl.span),))

    # ------------------------------------------------------------ order
    def _decl(self, key: NodeKey) -> n.Node:
        return declaration(self.p, key)

    def _entity(self, key: NodeKey) -> str:
        return self._decl(key).entity

    def _period_nodes(self) -> set[NodeKey]:
        return {k for k in self.graph.nodes if k[0] in ("measure", "population", "score")
                or (k[0] == "rating" and k[2] == "score")}

    def _order(self) -> list[list[NodeKey]]:
        """Groups of a period's nodes in dependency order: single nodes, and tree recursions compiled together."""
        return self.graph.order(self._period_nodes())

    def _order_flat(self) -> list[NodeKey]:
        return [k for group in self._order() for k in group]

    def _self_loop(self, key: NodeKey) -> bool:
        return key in self.graph.edges.get(key, {})

    # ------------------------------------------------------------ stages
    def frame_scope(self, fr: Frame) -> Scope:
        if fr.pending is None:
            params = Params("s")
            fr.pending = Stage(Rel(fr.base, params, fr.base_cols))
            fr.pending.rel.reads.add(fr.base)
        return Scope(fr.pending.rel, "frame", fr.entity)

    def attach(self, scan: Scan, consumer: Scope) -> None:
        for fr in self.frames.values():
            if fr.pending is not None and (fr.pending.rel is consumer.rel or any(
                    s.rel is consumer.rel for s in fr.pending.scans)):
                fr.pending.scans.append(scan)
                return
        for fr in self.rollup_frames.values():
            if fr.pending is not None and (fr.pending.rel is consumer.rel or any(
                    s.rel is consumer.rel for s in fr.pending.scans)):
                fr.pending.scans.append(scan)
                return
        raise CompileError("an aggregate is read where no stage is being built")

    def flush(self, fr: Frame, steps: list[Step] | None = None) -> None:
        """Write the frame's current stage out as a table (after the scans it reads)."""
        stage = fr.pending
        fr.pending = None
        if stage is None or not stage.outputs:
            return
        target = self.steps if steps is None else steps
        for scan in _scan_order(stage.scans):
            target.append(self._scan_step(scan))
        table = fr.next_table()
        select = ", ".join(['"_e"'] + [ident(c) for c in stage.outputs])
        sql = f"CREATE OR REPLACE TABLE {table} AS {stage.rel.sql(select)}"
        target.append(step(f"{fr.entity} stage {fr.count}", "stage", sql, stage.rel.params, entity=fr.entity,
                           creates=table, reads=tuple(sorted(stage.rel.reads)), rules=tuple(stage.rules)))
        for c in stage.outputs:
            fr.tables[c] = table

    def _scan_step(self, scan: Scan) -> Step:
        sql = f"CREATE OR REPLACE TABLE {scan.table} AS {scan.sql()}"
        what = scan.coll.source if scan.coll.kind == "input" else scan.coll.kind
        return step(f"scan {what} for {scan.coll.owner}", "scan", sql, scan.rel.params, entity=scan.coll.owner,
                    creates=scan.table, reads=tuple(sorted(scan.rel.reads)),
                    rules=(Rule("scan", what, None),))

    def _node(self, key: NodeKey, frames: dict[str, Frame] | None = None, ec: ExprCompiler | None = None) -> None:
        frames = frames or self.frames
        ec = ec or self.ec
        fr = frames[self._entity(key)]
        # Stage boundaries from the graph: what this rule reads from outside its own row (another
        # entity's value, or one read inside an aggregate) must be in a table before it is compiled.
        for dep in self.a.table_reads.get(key, ()):
            for other in frames.values():
                if other.pending is not None and dep in other.pending.nodes and other.rec_table is None:
                    self.flush(other)
        self.frame_scope(fr)
        self._compile_node(key, fr, ec)
        if key[0] == "rating":
            self.quotas(self.rating_cols[key], fr, ec, key)

    def _compile_node(self, key: NodeKey, fr: Frame, ec: ExprCompiler) -> None:
        stage = fr.pending
        # In a roll-up and its rating, `periods` names the kept results of the periods.
        scope = Scope(stage.rel, "frame", fr.entity, periods=key[0] == "rollup" or key[-2] == "rollup")
        rel = stage.rel
        before = set(rel.layer_of)
        if key[0] == "measure":
            measure = self.p.measures[key[1]]
            cols = self._measure(measure, scope, ec)
            value = next((sql for name, sql in (c for layer in rel.layers for c in layer) if name == cols[0]), "")
            stage.rules.append(Rule("measure", measure.name, measure.span, value))
        elif key[0] == "population":
            score = self.p.scores[key[1]]
            earlier = []
            for other in self.p.scores.values():
                if other is score:
                    break
                if other.entity == score.entity:
                    earlier.append(other)
            cols = population(ec, scope, score, earlier)
        elif key[0] == "score":
            score = self.p.scores[key[1]]
            out = ScoreCompiler(ec, scope, score).compile()
            self.score_cols[score.name] = out
            cols = out.outputs
            stage.rules.append(Rule("score", score.name, score.span))
        elif key[0] == "rollup":
            rollup = self.p.rollups[key[1]]
            cols = compile_rollup(ec, scope, rollup)
            stage.rules.append(Rule("rollup", rollup.name, rollup.span))
        else:
            rating = self.p.ratings[key[1]]
            score_name = key[3]
            if key[2] == "rollup":
                score_v = ec.read(scope, fr.entity, SELF, C.rollup(score_name, "score"))
                status = ec.read(scope, fr.entity, SELF, C.rollup(score_name, "status"))
                rated = V(f"({status.sql} = 'ok')", "bool", status.deps)
            else:
                score_v = ec.read(scope, fr.entity, SELF, C.score(score_name, "score"))
                status = ec.read(scope, fr.entity, SELF, C.score(score_name, "status"))
                rated = V(f"coalesce({status.sql} = 'ok', FALSE)", "bool", status.deps)
            out = RatingCompiler(ec, scope, rating, score_name, score_v, rated).compile()
            self.rating_cols[key] = out
            cols = list(out.outputs)
            stage.rules.append(Rule("rating", f"{rating.name} of {score_name}", rating.span))
        stage.outputs.extend(cols)
        stage.nodes.append(key)
        for c in set(rel.layer_of) - before:
            kind = rel.kinds.get(c)
            if kind is not None:
                fr.info[c] = ColInfo(kind[0], tuple(kind[1]))

    def _measure(self, measure: n.Measure, scope: Scope, ec: ExprCompiler) -> list[str]:
        e = measure.expr
        total = matched = None
        if isinstance(e, n.Call) and (e.func in ("count", "sum", "mean", "share")
                                      or (e.func in ("min", "max") and len(e.args) == 1)):
            v, total, matched = ec.aggregate(e, scope, stats=True)
        else:
            v = ec.expr(e, scope)
        if measure.missing == "zero":
            if v.kind in ("int", "dec"):
                zero = "0" if v.kind == "int" else D.dec("0")
                v = V(f"coalesce({v.sql}, {zero})", v.kind, v.deps)
            elif v.kind == "bool":
                v = V(f"coalesce({v.sql}, FALSE)", "bool", v.deps)
            else:
                raise CompileError(f"`missing zero` needs a number; measure `{measure.name}` is not one",
                                   measure.span)
        if v.kind in ("null", "dec"):
            v = ec.as_dec(v)
        name = C.measure(measure.name)
        rel = scope.rel
        rel.add(name, v.sql, v.deps, v.kind, v.levels)
        cols = [name]
        self.measure_cols[measure.name] = {"value": name, "kind": v.kind}
        if total is not None:
            rel.add(name + ":total", total.sql, total.deps, "int")
            rel.add(name + ":matched", matched.sql, matched.deps, "int")
            cols += [name + ":total", name + ":matched"]
            self.measure_cols[measure.name].update(total=name + ":total", matched=name + ":matched")
        return cols

    def quotas(self, rc: RatingCols, fr: Frame, ec: ExprCompiler, key: NodeKey) -> None:
        """Each quota counts over the whole group: write the levels out, count in one narrow pass, go on."""
        quotas = [i for i in rc.rating.items if isinstance(i, n.Quota)]
        cur = rc.before_quotas
        for k, quota in enumerate(quotas):
            self.flush(fr)
            rel = Rel(fr.base, Params("w"), fr.base_cols)
            rel.reads.add(fr.base)
            from kpidsl.compile.ratings import finish_quota, quota_sql
            table = work_table(f"{fr.prefix}{fr.entity}:quota{len(self.steps)}")
            sql = f"CREATE OR REPLACE TABLE {table} AS {quota_sql(rc, k, quota, cur, rel, ec)}"
            self.steps.append(step(f"quota {quota.level} of {rc.rating.name}", "scan", sql, rel.params,
                                   entity=fr.entity, creates=table, reads=tuple(sorted(rel.reads)),
                                   rules=(Rule("quota", f"{quota.level} of {rc.rating.name}", quota.span),)))
            scope = self.frame_scope(fr)
            before = set(scope.rel.layer_of)
            added = finish_quota(rc, k, quota, cur, scope, table, ec, k == len(quotas) - 1)
            fr.pending.outputs.extend(added)
            fr.pending.nodes.append(key)
            fr.pending.rules.append(Rule("quota", f"{quota.level} of {rc.rating.name}", quota.span))
            for c in set(scope.rel.layer_of) - before:
                kind = scope.rel.kinds.get(c)
                if kind is not None:
                    fr.info[c] = ColInfo(kind[0], tuple(kind[1]))
            cur = rc.quotas[-1].after

    # ------------------------------------------------------------ unit-tree recursion
    def _levels(self, group: list[NodeKey], frames: dict[str, Frame] | None = None,
                ec: ExprCompiler | None = None) -> None:
        frames = frames or self.frames
        entities = {self._entity(k) for k in group}
        if entities != {"units"}:
            names = ", ".join(describe_node(k) for k in group)
            raise CompileError(f"these rules depend on each other: {names}", self._decl(group[0]).span)
        fr = frames["units"]
        self.flush(fr)
        dirs = set()
        inside = set(group)
        for k in group:
            for dep, labels in self.graph.edges[k].items():
                if dep in inside:
                    for label in labels:
                        dirs |= set(label)
        if dirs not in ({"down"}, {"up"}):
            raise CompileError("these unit rules read each other both up and down the unit tree",
                               self._decl(group[0]).span)
        for k in group:
            if k[0] == "rating" and any(isinstance(i, n.Quota) for i in self.p.ratings[k[1]].items):
                raise CompileError(f"rating `{k[1]}` has a quota and is computed unit by unit along the tree; "
                                   "quotas over such a rating are not supported", self.p.ratings[k[1]].span)
        rec = work_table(f"{fr.prefix}units:tree{fr.count + 1}")
        fr.rec_table = rec
        fr.rec_cols = NodeColumns(group)
        body: list[Step] = []
        # Inside the recursion, values of the same rules on other units come from `rec`.
        local_order = _local_order(group, self.graph.edges)
        for k in local_order:
            self._node(k, frames, ec)
        stage = fr.pending
        fr.pending = None
        fr.rec_table = None
        fr.rec_cols = NodeColumns()
        if stage is None:
            return
        for scan in _scan_order(stage.scans):
            body.append(self._scan_step(scan))
        stage.rel.filters.append('b."_depth" = CAST($level AS BIGINT)')
        layer = work_table(f"{fr.prefix}units:level{fr.count + 1}")
        select = ", ".join(['"_e"'] + [ident(c) for c in stage.outputs])
        body.append(step("units at one depth", "stage",
                         f"CREATE OR REPLACE TABLE {layer} AS {stage.rel.sql(select)}", stage.rel.params,
                         entity="units", creates=layer, reads=tuple(sorted(stage.rel.reads)),
                         rules=tuple(stage.rules)))
        sets = ", ".join(f"{ident(c)} = v.{ident(c)}" for c in stage.outputs)
        body.append(step("units at one depth: keep", "stage",
                         f"UPDATE {rec} AS r SET {sets} FROM {layer} AS v WHERE r.\"_e\" = v.\"_e\"",
                         entity="units", reads=(layer,)))
        cols = ", ".join(f"CAST(NULL AS {sql_type(fr.info[c].kind if c in fr.info else 'dec')}) AS {ident(c)}"
                         for c in stage.outputs)
        create = step("units along the tree", "levels",
                      f"CREATE OR REPLACE TABLE {rec} AS SELECT \"_e\", {cols} FROM {fr.base}",
                      entity="units", creates=rec, reads=(fr.base,), rules=tuple(stage.rules),
                      body=tuple(body), direction="down" if dirs == {"down"} else "up")
        fr.count += 1
        self.steps.append(create)
        for c in stage.outputs:
            fr.tables[c] = rec

    # ------------------------------------------------------------ roll-ups
    def _rollups(self) -> list[RollupPlan]:
        if not self.p.rollups:
            return []
        from kpidsl.compile.rollups import compile_rollups
        return compile_rollups(self)


def compile_rollup(ec: ExprCompiler, scope: Scope, rollup: n.Rollup) -> list[str]:
    from kpidsl.compile.rollups import compile_rollup as compile_one
    return compile_one(ec, scope, rollup)


def _scan_order(scans: list[Scan]) -> list[Scan]:
    """Scans in an order where a scan read by another comes first."""
    tables = {s.table: s for s in scans}
    out: list[Scan] = []
    seen: set[str] = set()

    def visit(s: Scan) -> None:
        if s.table in seen:
            return
        seen.add(s.table)
        for t in sorted(s.rel.reads):
            if t in tables:
                visit(tables[t])
        out.append(s)

    for s in scans:
        visit(s)
    return out


def _local_order(group: list[NodeKey], edges) -> list[NodeKey]:
    """Within a tree recursion: order by reads of the same unit only (reads along the tree come from `rec`)."""
    inside = set(group)
    deps = {k: {d for d, labels in edges[k].items() if d in inside and frozenset() in labels and d != k}
            for k in group}
    out: list[NodeKey] = []
    done: set = set()
    while len(out) < len(group):
        ready = [k for k in group if k not in done and deps[k] <= done]
        if not ready:
            raise CompileError("rules of one unit depend on each other in a circle")
        out.append(ready[0])
        done.add(ready[0])
    return out
