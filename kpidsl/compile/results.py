"""The result tables (schema `results`) from the computed frames: entities, items, measures, rating steps, quotas.

Each entity's stage tables are joined into a final frame table; every result
table is then filled from it by plain SELECTs. The rows are a set: whatever reads
them (outputs, evidence, explain, `kpidsl test`) orders them by their keys.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from kpidsl.compile import columns as C
from kpidsl.compile.frame import Frame, work_table
from kpidsl.compile.ratings import RatingCols, level_reason, levels_of
from kpidsl.compile.scores import ScoreCols
from kpidsl.plan import DEC, MATCHED_COLUMN, OPTIONAL_TABLES, RESULT_TABLES, RESULTS_SCHEMA, WIDE_FIELDS, Rule, Step
from kpidsl.plan import wide_table as wide_table_name
from kpidsl.semantic.scope import text_of
from kpidsl.sql.quoting import Params, ident, qualified
from kpidsl.syntax import nodes as n

if TYPE_CHECKING:  # pragma: no cover
    from kpidsl.compile.planner import PlanCompiler

RESULTS = RESULTS_SCHEMA
# The contract itself lives in kpidsl/plan.py, the contract between compile and engine, defined once.
TABLES = {**RESULT_TABLES, **OPTIONAL_TABLES}


def table(name: str) -> str:
    return qualified(RESULTS, name)


def create_steps() -> list[Step]:
    out = [Step("results schema", "results", f"CREATE SCHEMA IF NOT EXISTS {ident(RESULTS)}")]
    for name, cols in TABLES.items():
        body = ", ".join(f"{ident(c)} {t}" for c, t in cols)
        out.append(Step(f"results {name}", "results", f"CREATE OR REPLACE TABLE {table(name)} ({body})",
                        creates=table(name)))
    return out


def final_frame(fr: Frame, units: Frame | None, name: str) -> list[Step]:
    """All of an entity's computed columns in one table, with the id of its unit (or parent).

    Joined one stage table at a time: a single statement joining them all holds every wide stage
    table in a hash table at once, which at a million people is more than the run's memory.
    """
    tables = sorted(set(fr.tables.values()))
    key = "_unit_e" if fr.entity == "people" else "_parent_e"
    unit = ', u."id" AS "~unit_id"' if units is not None else ', CAST(NULL AS VARCHAR) AS "~unit_id"'
    unit_join = f' LEFT JOIN {units.base} AS u ON u."_e" = b.{ident(key)}' if units is not None else ""
    names = [name] if not tables else [work_table(f"{fr.entity}:joined:{i}") for i in range(len(tables))] + [name]
    sql = f"CREATE OR REPLACE TABLE {names[0]} AS SELECT b.*{unit} FROM {fr.base} AS b{unit_join}"
    steps = [Step(f"{fr.entity} results frame", "results", sql, entity=fr.entity, creates=names[0],
                  reads=(fr.base,))]
    for i, t in enumerate(tables):
        before, after = names[i], names[i + 1]
        sql = (f'CREATE OR REPLACE TABLE {after} AS SELECT f.*, t.* EXCLUDE ("_e") FROM {before} AS f '
               f'LEFT JOIN {t} AS t ON t."_e" = f."_e"')
        steps.append(Step(f"{fr.entity} results frame {i + 1}", "results", sql, entity=fr.entity, creates=after,
                          reads=(before, t)))
        steps.append(Step(f"{fr.entity} results frame {i + 1} done", "results", f"DROP TABLE {before}"))
    return steps


def insert(name: str, selects: list[str], params: Params, rules: tuple[Rule, ...] = ()) -> list[Step]:
    """The rows of a result table, inserted straight from the final frames.

    Not sorted: a result table is a set, and everything that reads one (the output files,
    the evidence, explain, the report, `kpidsl test`) orders its rows by their keys.
    """
    from kpidsl.compile.planner import bind

    cols = ", ".join(ident(c) for c, _ in TABLES[name])
    if not selects:
        return [Step(f"results {name}", "results", "SELECT 1 WHERE FALSE", rules=rules)]
    union = " UNION ALL ".join(f"({s})" for s in selects)
    sql = f"INSERT INTO {table(name)} SELECT {cols} FROM ({union}) AS r"
    return [Step(f"results {name}", "results", sql, bind(sql, params), creates=table(name), rules=rules)]


def period_results(pc: PlanCompiler) -> list[Step]:
    out = create_steps()
    finals: dict[str, str] = {}
    for e in pc.entities:
        fr = pc.frames[e]
        finals[e] = work_table(f"{e}:final")
        out.extend(final_frame(fr, pc.frames.get("units"), finals[e]))
    params = Params("r")
    out.extend(insert("entities", [_entities(pc, e, finals[e], params) for e in pc.entities], params))
    for e in pc.entities:
        out.append(wide_table(pc, e, finals[e]))
    params = Params("r")
    selects = []
    for score in pc.p.scores.values():
        cols = pc.score_cols.get(score.name)
        if cols is not None and score.entity in finals:
            selects.extend(_items(cols, finals[score.entity], params))
    out.extend(insert("items", selects, params))
    params = Params("r")
    selects = []
    for measure in pc.p.measures.values():
        info = pc.measure_cols.get(measure.name)
        if info is not None and measure.entity in finals:
            selects.append(_measure(measure, info, finals[measure.entity], params))
    out.extend(insert("measures", selects, params))
    params = Params("r")
    selects = []
    for _key, cols in pc.rating_cols.items():
        selects.extend(rating_steps(cols, finals[cols.entity], params))
    out.extend(insert("rating_steps", selects, params))
    params = Params("r")
    selects = []
    for _key, cols in pc.rating_cols.items():
        selects.extend(quota_rows(cols, finals[cols.entity], params))
    out.extend(insert("quota", selects, params))
    return out


def _p(params: Params, value) -> str:
    return params.add(value)


def _entities(pc: PlanCompiler, entity: str, final: str, params: Params) -> str:
    return f"SELECT {_entity_cols(pc, entity, params)} FROM {final}"


def _entity_cols(pc: PlanCompiler, entity: str, params: Params) -> str:
    """The columns of an entity's row in `results.entities`, read from its final frame."""
    scores = [s for s in pc.p.scores.values() if s.entity == entity and s.name in pc.score_cols]
    names, statuses, values, ratings, labels, befores, reasons = [], [], [], [], [], [], []
    for score in scores:
        on = ident(C.score(score.name, "on"))
        names.append(f"WHEN {on} THEN {_p(params, score.name)}")
        statuses.append(ident(C.score(score.name, "status")))
        values.append(ident(C.score(score.name, "score")))
        reasons.append(ident(C.score(score.name, "reason")))
        rating = pc.names.rating_of.get(score.name)
        cols = pc.rating_cols.get(("rating", rating, "score", score.name)) if rating else None
        if cols is not None:
            final_col = ident(cols.final)
            ratings.append(final_col)
            befores.append(ident(cols.level))
            cases = " ".join(f"WHEN {_p(params, lv)} THEN {_p(params, label)}"
                             for lv, label in cols.labels.items() if label is not None)
            labels.append(f"WHEN {on} THEN CASE {final_col} {cases} END" if cases else f"WHEN {on} THEN NULL")
    score_name = f"CASE {' '.join(names)} END" if names else "CAST(NULL AS VARCHAR)"
    return (f"{_p(params, entity)} AS entity, \"id\", {score_name} AS score_name, "
            f"coalesce({', '.join(statuses + [repr_str('not_scored')])}) AS status, "
            f"{_coalesce(values, DEC)} AS score, {_coalesce(ratings, 'VARCHAR')} AS rating, "
            f"{'CASE ' + ' '.join(labels) + ' END' if labels else 'CAST(NULL AS VARCHAR)'} AS rating_label, "
            f"{_coalesce(befores, 'VARCHAR')} AS rating_before, \"~unit_id\" AS unit_id, "
            f"{_coalesce(reasons, 'VARCHAR')} AS reason")


def wide_table(pc: PlanCompiler, entity: str, final: str) -> Step:
    """`results."wide:<entity>"`: the entity's row of `results.entities` and, for each item path of its
    scores, the fields of that item from the score that takes the entity (NULL from the others).

    The same values as `results.items` holds, one row per entity: the people and units outputs are
    read from here instead of pivoting the items back (see kpidsl/output/tables.py, entity_table).
    """
    from kpidsl.compile.planner import bind

    params = Params("w")
    per_path: dict[str, dict[str, list[str]]] = {}
    for score in pc.p.scores.values():
        cols = pc.score_cols.get(score.name)
        if cols is None or score.entity != entity:
            continue
        on = ident(C.score(score.name, "on"))
        for item in cols.items:
            value, text = _item_value(item)
            found = {"value": value, "value_text": text, "contribution": _col(item.contribution),
                     "weight": _share(item.weight, item.weight_const, params), "credit": _col(item.credit)}
            fields = per_path.setdefault(item.path, {f: [] for f in WIDE_FIELDS})
            for f in WIDE_FIELDS:
                fields[f].append(f"WHEN {on} THEN {found[f]}")
    items = []
    for path, fields in per_path.items():
        for f in WIDE_FIELDS:
            sql_type = "VARCHAR" if f == "value_text" else DEC
            items.append(f"CAST(CASE {' '.join(fields[f])} END AS {sql_type}) AS {ident(f'{path}:{f}')}")
    matches = [f"CAST({ident(C.score(s.name, 'match'))} AS INTEGER)" for s in pc.p.scores.values()
               if s.entity == entity and s.name in pc.score_cols]
    # How many scores' `where` hold for the entity, earlier scores aside (the manifest's `population`).
    items.append(f"{' + '.join(matches) if matches else '0'} AS {ident(MATCHED_COLUMN)}")
    name = wide_table_name(entity)
    sql = (f"CREATE OR REPLACE TABLE {name} AS SELECT {_entity_cols(pc, entity, params)}"
           f"{''.join(', ' + c for c in items)} FROM {final}")
    return Step(f"results {entity} wide", "results", sql, bind(sql, params), entity=entity, creates=name,
                reads=(final,))


def repr_str(value: str) -> str:
    """A fixed word of the engine (a status), as a SQL string; never data or framework text."""
    assert value.replace("_", "").isalpha()
    return f"'{value}'"


def _coalesce(cols: list[str], sql_type: str) -> str:
    if not cols:
        return f"CAST(NULL AS {sql_type})"
    if len(cols) == 1:
        return f"CAST({cols[0]} AS {sql_type})"
    return f"CAST(coalesce({', '.join(cols)}) AS {sql_type})"


def _item_value(item) -> tuple[str, str]:
    """An item's raw value as (number, text): a number, or 1/0 and true/false, or only text (an enum value)."""
    if item.value is not None and item.value_kind in ("int", "dec"):
        return f"CAST({ident(_bare(item.value))} AS {DEC})", "CAST(NULL AS VARCHAR)"
    if item.value is not None and item.value_kind == "bool":
        col = ident(_bare(item.value))
        return f"CASE WHEN {col} THEN 1 WHEN NOT {col} THEN 0 END", f"CAST({col} AS VARCHAR)"
    if item.value is not None:
        return "NULL", f"CAST({ident(_bare(item.value))} AS VARCHAR)"
    return "NULL", "CAST(NULL AS VARCHAR)"


def _items(cols: ScoreCols, final: str, params: Params) -> list[str]:
    out = []
    score = cols.score
    for item in cols.items:
        node = item.node
        label = getattr(node, "label", None)
        value, text = _item_value(item)
        out.append(
            f"SELECT {_p(params, score.entity)} AS entity, \"id\", {_p(params, score.name)} AS score_name, "
            f"{_p(params, item.path)} AS path, CAST({_p(params, item.parent)} AS VARCHAR) AS parent_path, "
            f"{_p(params, item.kind)} AS kind, CAST({_p(params, label)} AS VARCHAR) AS label, "
            f"CAST({value} AS {DEC}) AS value, {_col(item.credit)} AS credit, "
            f"{_share(item.weight, item.weight_const, params)} AS weight, "
            f"{_share(item.budget, item.budget_const, params)} AS budget, {_col(item.contribution)} AS contribution, "
            f"CAST({_col(item.policy, 'VARCHAR')} AS VARCHAR) AS missing_policy, "
            f"CAST({_p(params, item.scale)} AS VARCHAR) AS scale, "
            f"CAST({_p(params, node.span.line)} AS INTEGER) AS line, "
            f"CAST({_p(params, node.span.file)} AS VARCHAR) AS file, {text} AS value_text "
            f"FROM {final} WHERE {ident(f's:{score.name}:on')}")
    return out


def _share(column: str | None, const, params: Params) -> str:
    """A weight or budget: its column, or the value every entity has (kept out of the frames)."""
    if const is not None:
        return f"CAST({params.add(Decimal(int(const * 10 ** 12)).scaleb(-12))} AS {DEC})"  # at most 12 places
    return _col(column)


def _bare(sql: str) -> str:
    return sql[1:-1].replace('""', '"') if sql.startswith('"') else sql


def _col(sql: str | None, sql_type: str = DEC) -> str:
    if sql is None:
        return f"CAST(NULL AS {sql_type})"
    return f"CAST({ident(_bare(sql))} AS {sql_type})"


def _measure(measure: n.Measure, info: dict, final: str, params: Params) -> str:
    col = ident(info["value"])
    kind = info["kind"]
    if kind in ("int", "dec"):
        value, text = f"CAST({col} AS {DEC})", "CAST(NULL AS VARCHAR)"
    elif kind == "bool":
        value, text = f"CASE WHEN {col} THEN 1 WHEN NOT {col} THEN 0 END", f"CAST({col} AS VARCHAR)"
    else:
        value, text = "NULL", f"CAST({col} AS VARCHAR)"
    total = f"CAST({ident(info['total'])} AS BIGINT)" if "total" in info else "CAST(NULL AS BIGINT)"
    matched = f"CAST({ident(info['matched'])} AS BIGINT)" if "matched" in info else "CAST(NULL AS BIGINT)"
    return (f"SELECT {_p(params, measure.entity)} AS entity, \"id\", {_p(params, measure.name)} AS name, "
            f"CAST({value} AS {DEC}) AS value, {total} AS rows_total, {matched} AS rows_matched, "
            f"{text} AS value_text FROM {final}")


def rating_steps(cols: RatingCols, final: str, params: Params) -> list[str]:
    """One row per rated entity for its level, and one per override, cap or quota that changed it."""
    entity = _p(params, cols.entity)
    via = _p(params, cols.via)
    levels = levels_of(cols.rating)
    head = f"SELECT {entity} AS entity, \"id\", {via} AS score_name"
    level = ident(cols.level)
    reason = " ".join(f"WHEN {_p(params, lv.name)} THEN {_p(params, level_reason(lv))}" for lv in levels)
    line = " ".join(f"WHEN {_p(params, lv.name)} THEN {_p(params, lv.span.line)}" for lv in levels)
    file = " ".join(f"WHEN {_p(params, lv.name)} THEN {_p(params, lv.span.file)}" for lv in levels)
    out = [f"{head}, 'level' AS step, CAST(NULL AS VARCHAR) AS from_level, {level} AS to_level, "
           f"CAST(CASE {level} {reason} END AS VARCHAR) AS reason, CAST(CASE {level} {line} END AS INTEGER) AS line, "
           f"CAST(CASE {level} {file} END AS VARCHAR) AS file FROM {final} WHERE {level} IS NOT NULL"]
    before = level
    for change in cols.changes:
        after = ident(change.after)
        if change.kind == "override":
            overrides = [i for i in cols.rating.items if isinstance(i, n.Override)]
            index = ident(change.index)
            why = " ".join(f"WHEN {i + 1} THEN {_p(params, 'override when ' + text_of(o.when, 200))}"
                           for i, o in enumerate(overrides))
            at = " ".join(f"WHEN {i + 1} THEN {_p(params, o.span.line)}" for i, o in enumerate(overrides))
            reason_sql = f"CASE {index} {why} END"
            line_sql = f"CASE {index} {at} END"
            file_sql = _p(params, overrides[0].span.file)
        elif change.kind == "cap":
            cap = change.node
            words = "capped at " + text_of(cap.against, 200)
            reason_sql = f"{_p(params, words + ' = ')} || {ident(change.other)}"
            line_sql, file_sql = _p(params, cap.span.line), _p(params, cap.span.file)
        else:
            quota = change.node
            reason_sql = _p(params, text_of(quota, 200))
            line_sql, file_sql = _p(params, quota.span.line), _p(params, quota.span.file)
        out.append(f"{head}, {_p(params, change.kind)} AS step, {before} AS from_level, {after} AS to_level, "
                   f"CAST({reason_sql} AS VARCHAR) AS reason, CAST({line_sql} AS INTEGER) AS line, "
                   f"CAST({file_sql} AS VARCHAR) AS file FROM {final} "
                   f"WHERE {before} IS NOT NULL AND {after} IS DISTINCT FROM {before}")
        before = after
    return out


def quota_rows(cols: RatingCols, final: str, params: Params) -> list[str]:
    out = []
    for q in cols.quotas:
        node = q.node
        level = _p(params, node.level)
        before, after = ident(q.before), ident(q.after)
        resolution = "report" if node.resolve_by is None else (
            "score" if node.resolve_by == "score" else f"measure {node.resolve_by}")
        out.append(
            f"SELECT {_p(params, cols.rating.name)} AS rating, {level} AS level, {_p(params, node.of)} AS of_level, "
            f"{ident(q.group)} AS group_key, CAST(any_value({ident(q.allowed)}) AS BIGINT) AS allowed, "
            f"CAST(count(*) AS BIGINT) AS holders, {_p(params, resolution)} AS resolution, "
            f"coalesce(list(\"id\" ORDER BY \"id\") FILTER (WHERE {after} = {level}), []) AS kept, "
            f"coalesce(list(\"id\" ORDER BY \"id\") FILTER (WHERE {after} IS DISTINCT FROM {level}), []) AS moved "
            f"FROM {final} WHERE {before} = {level} GROUP BY {ident(q.group)}")
    return out


def _entities_rollup(pc: PlanCompiler, rollup: n.Rollup, cols: RatingCols | None, final: str, params: Params) -> str:
    prefix = C.rollup_prefix(rollup.name)
    if cols is not None:
        final_col, before = ident(cols.final), ident(cols.level)
        cases = " ".join(f"WHEN {_p(params, lv)} THEN {_p(params, label)}"
                         for lv, label in cols.labels.items() if label is not None)
        label = f"CASE {final_col} {cases} END" if cases else "CAST(NULL AS VARCHAR)"
    else:
        final_col = before = label = "CAST(NULL AS VARCHAR)"
    return (f"SELECT {_p(params, rollup.entity)} AS entity, \"id\", {_p(params, rollup.name)} AS score_name, "
            f"{ident(prefix + 'status')} AS status, CAST({ident(prefix + 'score')} AS {DEC}) AS score, "
            f"CAST({final_col} AS VARCHAR) AS rating, CAST({label} AS VARCHAR) AS rating_label, "
            f"CAST({before} AS VARCHAR) AS rating_before, \"~unit_id\" AS unit_id, "
            f"{ident(prefix + 'reason')} AS reason FROM {final}")
