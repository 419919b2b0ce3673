"""Result tables -> the run's files: wide people/units tables, items, rating steps, quota, and explain's evidence.

The engine leaves its results in the `results` schema (RESULT_TABLES is that
contract). This module turns them into files: CSV and Parquet (written by DuckDB
from ordered queries), JSON and XLSX (streamed from Python), and the evidence
`kpidsl explain` reads later: the result tables as typed Parquet and the
framework's rules as JSON. Every query has an ORDER BY over unique keys and no
file holds a clock time, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, assert_never

from kpidsl.decimals import decimal_text as decimal_text_of
from kpidsl.i18n import language_of
from kpidsl.plan import DEC, OPTIONAL_TABLES, RESULT_TABLES, RESULTS_SCHEMA, WIDE_FIELDS, WIDE_PREFIX, wide_table  # noqa: F401
from kpidsl.semantic.resolve import Program
from kpidsl.sql.quoting import Params, ident, qualified
from kpidsl.syntax import nodes as n
from kpidsl.text import neutralised, neutralised_sql

_STEP_RANK = "CASE step WHEN 'level' THEN 0 WHEN 'override' THEN 1 WHEN 'cap' THEN 2 WHEN 'quota' THEN 3 ELSE 4 END"
ORDER_BY: dict[str, str] = {
    "entities": "entity, id, score_name NULLS FIRST",
    "items": "entity, id, score_name NULLS FIRST, path",
    "measures": "entity, id, name",
    "rating_steps": f"entity, id, score_name NULLS FIRST, {_STEP_RANK}, line NULLS FIRST, file NULLS FIRST, "
                    "from_level NULLS FIRST, to_level NULLS FIRST, reason NULLS FIRST",
    "quota": "rating, level, group_key NULLS FIRST",
    "periods": "entity, id, period, score_name NULLS FIRST",
}

FORMATS = ("csv", "parquet", "json", "xlsx")
DEFAULT_FORMATS = ("csv", "parquet")
EVIDENCE_DIR = "evidence"
FRAMEWORK_EVIDENCE = "framework.json"
EVIDENCE_VERSION = 1
XLSX_FILE = "results.xlsx"


class OutputError(Exception):
    """The outputs cannot be written as asked; the message says why in plain words."""


def create_result_tables(con: Any, optional: Sequence[str] = ()) -> None:
    """Create the empty `results` tables of the contract (and the optional ones named)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(RESULTS_SCHEMA)}")
    tables = {**RESULT_TABLES, **{name: OPTIONAL_TABLES[name] for name in optional}}
    for table, columns in tables.items():
        cols = ", ".join(f"{ident(name)} {sql_type}" for name, sql_type in columns)
        con.execute(f"CREATE OR REPLACE TABLE {qualified(RESULTS_SCHEMA, table)} ({cols})")


def result_table(name: str) -> str:
    return qualified(RESULTS_SCHEMA, name)


def _tables_made(con: Any) -> set[str]:
    """The names of the tables in the `results` schema."""
    return {row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = $s", {"s": RESULTS_SCHEMA}).fetchall()}


def present_wide_tables(con: Any) -> list[str]:
    """The entities (people, units) that have a wide table in this run, in that order."""
    found = _tables_made(con)
    return [e for e in ("people", "units") if f"{WIDE_PREFIX}{e}" in found]


def present_tables(con: Any) -> dict[str, tuple[tuple[str, str], ...]]:
    """The contract's tables and the optional ones this run has, in a fixed order."""
    found = _tables_made(con)
    return {**RESULT_TABLES, **{name: cols for name, cols in OPTIONAL_TABLES.items() if name in found}}


# ---------------------------------------------------------------- the framework's rules, for explain

def num_text(value: Fraction) -> str:
    """Exact decimal text when the number has one (0.25), else `n/d` (1/3)."""
    return decimal_text_of(value)


def _output(num: n.Num) -> Fraction:
    """A number in an output position (credit, points): 100% means 100."""
    return num.value * 100 if num.unit == "percent" else num.value


def source_text(node: n.Node, limit: int = 300) -> str:
    """A node's source text on one line, shortened."""
    span = node.span
    text = " ".join(span.source.text[span.start:span.end].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _where(node: n.Node) -> dict[str, Any]:
    return {"file": node.span.file, "line": node.span.line}


def _measures_used(expr: n.Node | None, entity: str, program: Program) -> list[str]:
    """Measures of `entity` an expression names directly, in order of first use."""
    from kpidsl.semantic.scope import walk

    if expr is None:
        return []
    found: list[str] = []
    for node in walk(expr):
        if isinstance(node, n.Name):
            measure = program.measures.get(node.parts[0])
            if measure is not None and measure.entity == entity and node.parts[0] not in found:
                found.append(node.parts[0])
    return found


def _scale_info(program: Program, criterion: n.Criterion) -> dict[str, Any] | None:
    from kpidsl.semantic.scope import scale_body

    body = scale_body(program, criterion)
    if body is None:
        return None
    info: dict[str, Any] = {"name": criterion.scale if isinstance(criterion.scale, str) else None,
                            "text": source_text(body, 200)}
    match body:
        case n.Linear():
            info.update(kind="linear", points=[[num_text(p.x.value), num_text(_output(p.y))] for p in body.points],
                        clamp=body.clamp, cap=num_text(_output(body.cap)) if body.cap else None)
        case n.Bands():
            info.update(kind="bands", bands=[{
                "bounds": [[b.op, num_text(b.value.value)] for b in band.bounds],
                "points": num_text(_output(band.points)), "else": band.is_else, "text": source_text(band, 100),
            } for band in body.bands])
        case n.Target():
            target = body.target
            info.update(kind="target", target=num_text(target.value) if isinstance(target, n.Num) else target.dotted,
                        cap=num_text(_output(body.cap)) if body.cap else None)
        case n.Levels():
            info.update(kind="levels", levels=[[lv.level, num_text(_output(lv.points))] for lv in body.levels])
        case n.PassFail():
            info.update(kind="pass", passed=num_text(_output(body.passed)), failed=num_text(_output(body.failed)))
        case _:
            assert_never(body)
    return info


def _share_text(share: n.Share | None) -> str | None:
    return source_text(share) if share is not None else None


def _items(program: Program, score: n.Score, items: Iterable[n.Node], parent: str | None) -> Iterator[dict]:
    for item in items:
        if isinstance(item, n.UseRating):
            continue
        path = item.name if parent is None else f"{parent}.{item.name}"
        base = {"path": path, "parent": parent, "name": item.name, "label": item.label, **_where(item)}
        if isinstance(item, n.Group):
            yield {**base, "kind": "group", "share": _share_text(item.share), "missing": item.missing}
            yield from _items(program, score, item.items, path)
        elif isinstance(item, n.Criterion):
            yield {**base, "kind": "criterion", "share": _share_text(item.share), "missing": item.missing,
                   "expression": source_text(item.expr), "measures": _measures_used(item.expr, score.entity, program),
                   "scale": _scale_info(program, item)}
        elif isinstance(item, n.Adjustment):
            yield {**base, "kind": item.kind, "expression": source_text(item.expr),
                   "measures": _measures_used(item.expr, score.entity, program),
                   "limit": num_text(_output(item.limit)) if item.limit else None}


def _threshold(when: n.Node | None) -> dict[str, str] | None:
    """The `score >= N` (or `score > N`) conjunct of a level's condition."""
    if when is None:
        return None
    parts = when.operands if isinstance(when, n.BoolOp) and when.op == "and" else (when,)
    for part in parts:
        if (isinstance(part, n.Compare) and part.op in (">=", ">") and isinstance(part.left, n.Name)
                and part.left.parts == ("score",) and isinstance(part.right, n.Num)):
            return {"op": part.op, "value": num_text(_output(part.right))}
    return None


def _rating_info(rating: n.Rating) -> dict[str, Any]:
    levels, overrides, caps, quotas = [], [], [], []
    for item in rating.items:
        if isinstance(item, n.Level):
            levels.append({"name": item.name, "label": item.label, "threshold": _threshold(item.when),
                           "condition": source_text(item.when) if item.when is not None else None, **_where(item)})
        elif isinstance(item, n.Override):
            overrides.append({"level": item.level, "condition": source_text(item.when), **_where(item)})
        elif isinstance(item, n.RatingCap):
            caps.append({"against": item.against.dotted,
                         "condition": source_text(item.when) if item.when is not None else None, **_where(item)})
        elif isinstance(item, n.Quota):
            quotas.append({"level": item.level, "text": source_text(item), **_where(item)})
    return {"name": rating.name, "label": rating.label, **_where(rating), "levels": levels,
            "overrides": overrides, "caps": caps, "quotas": quotas}


def framework_evidence(program: Program) -> dict[str, Any]:
    """What explain needs from the framework: every score item, measure and rating, with its source."""
    rounding = program.rounding
    scores = []
    for score in program.scores.values():
        rating = next((i.name for i in score.items if isinstance(i, n.UseRating)), None)
        scores.append({"name": score.name, "label": score.label, "entity": score.entity,
                       "total": num_text(score.total.value) if score.total is not None else "100",
                       "rating": rating, "where": source_text(score.where) if score.where is not None else None,
                       "missing": score.missing, **_where(score),
                       "items": list(_items(program, score, score.items, None))})
    measures = [{"name": m.name, "label": m.label, "entity": m.entity, "expression": source_text(m.expr),
                 "measures": [x for x in _measures_used(m.expr, m.entity, program) if x != m.name],
                 "missing": m.missing, **_where(m)} for m in program.measures.values()]
    rollups = []
    for rollup in program.rollups.values():
        expr = next((i.expr for i in rollup.items if isinstance(i, n.RollupScore)), None)
        rating = next((i.name for i in rollup.items if isinstance(i, n.UseRating)), None)
        skip = next((i.when for i in rollup.items if isinstance(i, n.NotEvaluated)), None)
        rollups.append({"name": rollup.name, "label": rollup.label, "entity": rollup.entity, "per": rollup.per,
                        "score": source_text(expr) if expr is not None else None, "rating": rating,
                        "not_evaluated": source_text(skip) if skip is not None else None, **_where(rollup)})
    return {
        "version": EVIDENCE_VERSION,
        "framework": program.root.id,
        "title": program.root.title,
        "language": language_of(program.root, None, program.frameworks).code,
        "entities": _entities_info(program),
        "inputs": [_input_info(i) for i in program.inputs.values()],
        "rounding": {"places": rounding.places if rounding else 2, "mode": rounding.mode if rounding else "half_up"},
        "scores": scores, "measures": measures,
        "ratings": [_rating_info(r) for r in program.ratings.values()], "rollups": rollups,
    }


def _entities_info(program: Program) -> dict[str, Any]:
    """Where people and units come from: the input, its key, its display field and label."""
    out: dict[str, Any] = {}
    for entity, decl in (("people", program.people), ("units", program.units)):
        inp = program.inputs.get(decl.input) if decl is not None else None
        if inp is not None:
            out[entity] = {"input": inp.name, "key": inp.key, "display": inp.display, "label": inp.label}
    return out


def _input_info(inp: n.Input) -> dict[str, Any]:
    fields = []
    for f in inp.fields:
        t = f.type
        fields.append({"name": f.name, "label": f.label, "type": t.base, "values": list(t.values), "ref": t.ref,
                       "optional": t.optional, "bounds": [[b.op, num_text(b.value.value)] for b in t.bounds],
                       "default": source_text(f.default) if f.default is not None else None})
    return {"name": inp.name, "label": inp.label, "key": inp.key, "period_by": inp.period_by,
            "display": inp.display, "fields": fields}


def item_order(evidence: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(score, path, position) in framework order: scores as declared, items as written."""
    out = []
    for score in evidence.get("scores", []):
        for item in score["items"]:
            out.append((score["name"], item["path"], len(out)))
    return out


# ---------------------------------------------------------------- names shown for ids

NAMES = "kpi_out.names"


def make_names(con: Any, evidence: dict[str, Any]) -> str:
    """A table (entity, id, name) of the display field of people and units, from the loaded data;
    empty for an entity whose input declares no `display` (or when no data is loaded)."""
    from kpidsl.sql.quoting import DATA_SCHEMA

    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(_ORDER_SCHEMA)}")
    con.execute(f"CREATE OR REPLACE TABLE {NAMES} (entity VARCHAR, id VARCHAR, name VARCHAR)")
    loaded = {row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = $s", {"s": DATA_SCHEMA}).fetchall()}
    for entity, info in sorted(evidence.get("entities", {}).items()):
        if info.get("display") and info.get("key") and info["input"] in loaded:
            con.execute(f"INSERT INTO {NAMES} SELECT $e, CAST({ident(info['key'])} AS VARCHAR), "
                        f"NULLIF(trim(CAST({ident(info['display'])} AS VARCHAR)), '') "
                        f"FROM {qualified(DATA_SCHEMA, info['input'])}", {"e": entity})
    return NAMES


# ---------------------------------------------------------------- output tables

@dataclass(frozen=True)
class Col:
    """An output column: its name, the SQL of its typed value, and how it is shown as text."""

    name: str
    sql: str
    show: str = "text"  # text | points (rounding places) | dec (trimmed) | int | list


@dataclass
class OutTable:
    """One output table: its columns over a FROM clause with bound parameters, in a fixed order."""

    name: str
    cols: list[Col]
    source: str
    order: str
    params: dict[str, Any] = field(default_factory=dict)

    def typed_sql(self, places: int) -> str:
        cols = ", ".join(f"{_typed(c, places)} AS {ident(c.name)}" for c in self.cols)
        # No order: the rows are read back from a file written in order (see _read_back).
        return f"SELECT {cols} FROM {self.source}" + (f" ORDER BY {self.order}" if self.order else "")

    def text_sql(self, places: int, neutralise: bool = False) -> str:
        """Every column as the text a CSV holds; with `neutralise`, text a spreadsheet would read as a
        formula starts with `'` (numbers are never touched: `-0.5` is a number)."""
        cols = ", ".join(f"{_shown(ident(c.name), c.show, places, neutralise)} AS {ident(c.name)}" for c in self.cols)
        return f"SELECT {cols} FROM ({self.typed_sql(places)})"


def _typed(col: Col, places: int) -> str:
    if col.show == "points":
        return f"CAST({col.sql} AS DECIMAL(38,{places}))"
    if col.show == "dec":
        return f"CAST({col.sql} AS {DEC})"
    return col.sql


def _shown(sql: str, show: str, places: int = 2, neutralise: bool = False) -> str:
    if show == "dec":
        # DECIMAL(38,12) text always has a point: drop trailing zeros, then a bare point
        # (one regular expression does both, faster than two rtrim calls).
        return f"regexp_replace({_decimal_text(sql, 12)}, '\\.?0+$', '')"
    if show == "points":
        return _decimal_text(sql, places)
    if show == "list":
        listed = f"NULLIF(array_to_string({sql}, ', '), '')"
        return neutralised_sql(listed) if neutralise else listed
    if show == "int":
        return f"CAST({sql} AS VARCHAR)"
    return neutralised_sql(sql) if neutralise else sql


def _decimal_text(sql: str, places: int) -> str:
    """A DECIMAL(38,places) as text; values that fit 18 digits go through DECIMAL(18,places), whose
    text is the same and several times faster to make than a 38-digit decimal's."""
    if places > 17:
        return f"CAST({sql} AS VARCHAR)"
    return (f"CASE WHEN abs({sql}) < {10 ** (18 - places)} THEN CAST(CAST({sql} AS DECIMAL(18,{places})) AS VARCHAR) "
            f"ELSE CAST({sql} AS VARCHAR) END")


_VALUE_COLS = {"criterion": ("value", "points", "weight", "credit"), "group": ("points", "weight"),
               "bonus": ("value", "points"), "penalty": ("value", "points")}
_ITEM_FIELD = {"value": ("value", "dec"), "points": ("contribution", "points"), "weight": ("weight", "dec"),
               "credit": ("credit", "dec")}
TEXT_VALUED_SCALES = ("levels", "pass")
"""Criteria scored by these scales have a value that is not a number (an enum value, true/false)."""


def text_valued(evidence: dict[str, Any]) -> set[tuple[str, str]]:
    """(score, path) of the criteria whose value is text."""
    return {(score["name"], item["path"]) for score in evidence.get("scores", []) for item in score["items"]
            if (item.get("scale") or {}).get("kind") in TEXT_VALUED_SCALES}


def item_columns(con: Any, entity: str, order: dict[tuple[str, str], int],
                 texts: set[tuple[str, str]] = frozenset()) -> list[tuple[str, str, bool]]:
    """The (path, measure, text-valued) triples of the wide table of `entity`, in framework order."""
    rows = con.execute(f"SELECT score_name, path, kind FROM {result_table('items')} WHERE entity = $e "
                       "GROUP BY ALL", {"e": entity}).fetchall()
    first: dict[str, tuple] = {}
    kinds: dict[str, set[str]] = {}
    text: dict[str, bool] = {}
    for score_name, path, kind in rows:
        rank = (order.get((score_name, path), len(order)), path)
        first[path] = min(first.get(path, rank), rank)
        kinds.setdefault(path, set()).add(kind)
        text[path] = text.get(path, False) or (score_name, path) in texts
    out = []
    for path in sorted(first, key=lambda p: first[p]):
        wanted = {c for kind in kinds[path] for c in _VALUE_COLS.get(kind, ("value", "points"))}
        out.extend((path, c, text[path]) for c in ("value", "points", "weight", "credit") if c in wanted)
    return out


def entity_table(con: Any, entity: str, evidence: dict[str, Any]) -> OutTable:
    """People or units, one row per entity and score: its result, then the columns of each item (wide).

    An item path has columns when some entity has a result of a score with that item (as in `items`).
    """
    order = {(s, p): i for s, p, i in item_order(evidence)}
    params = Params()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(_ORDER_SCHEMA)}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {NAMES} (entity VARCHAR, id VARCHAR, name VARCHAR)")
    wide = f"{WIDE_PREFIX}{entity}" in _tables_made(con)
    pivots, cols = [], []
    for i, (path, measure, is_text) in enumerate(item_columns(con, entity, order, text_valued(evidence))):
        column, show = _ITEM_FIELD[measure]
        if measure == "value" and is_text:
            column, show = "value_text", "text"
        if wide:
            cols.append(Col(f"{path}.{measure}", f"e.{ident(f'{path}:{column}')}", show))
        else:
            pivots.append(f"max({ident(column)}) FILTER (WHERE path = {params.add(path)}) AS c{i}")
            cols.append(Col(f"{path}.{measure}", f"w.c{i}", show))
    unit = "unit" if entity == "people" else "parent"
    head = [Col("id", "e.id"), Col("name", "nm.name"), Col(unit, "e.unit_id"), Col(f"{unit}_name", "un.name"),
            Col("score_name", "e.score_name"), Col("status", "e.status"), Col("score", "e.score", "points"),
            Col("rating", "e.rating"), Col("rating_label", "e.rating_label"), Col("reason", "e.reason")]
    order_by = "e.id, e.score_name NULLS FIRST"
    ent = params.add(entity)
    names = (f" LEFT JOIN {NAMES} AS nm ON nm.entity = {ent} AND nm.id = e.id"
             f" LEFT JOIN {NAMES} AS un ON un.entity = 'units' AND un.id = e.unit_id")
    if wide:
        return OutTable(entity, head + cols, f"{wide_table(entity)} AS e{names}", order_by, params.values)
    joined = names
    if pivots:
        joined += (f" LEFT JOIN (SELECT id, score_name, {', '.join(pivots)} FROM {result_table('items')} "
                  f"WHERE entity = {ent} GROUP BY id, score_name) AS w "
                  "ON w.id = e.id AND w.score_name IS NOT DISTINCT FROM e.score_name")
    return OutTable(entity, head + cols, f"{result_table('entities')} AS e{joined} WHERE e.entity = {ent}",
                    order_by, params.values)


def _item_cols() -> list[Col]:
    """The columns of the items output (and of the items evidence, which is the same file)."""
    cols = [Col(c, f"i.{c}") for c in ("entity", "id", "score_name", "path", "parent_path", "kind", "label")]
    cols += [Col("value", "i.value", "dec"), Col("value_text", "i.value_text")]
    cols += [Col(c, f"i.{c}", "dec") for c in ("credit", "weight", "budget")]
    cols += [Col("contribution", "i.contribution", "points"), Col("missing_policy", "i.missing_policy"),
             Col("scale", "i.scale"), Col("file", "i.file"), Col("line", "i.line", "int")]
    return cols


def items_table(folder: str) -> OutTable:
    """Every item of every entity, read back from the evidence, which holds them in this table's order."""
    evidence_items = os.path.join(folder, EVIDENCE_DIR, "items.parquet")
    return OutTable("items", _item_cols(), "read_parquet($evidence_items) AS i", "",
                    {"evidence_items": evidence_items})


def steps_table() -> OutTable:
    cols = [Col(c, c) for c in ("entity", "id", "score_name", "step", "from_level", "to_level", "reason", "file")]
    return OutTable("rating_steps", cols + [Col("line", "line", "int")], result_table("rating_steps"),
                    ORDER_BY["rating_steps"])


def quota_table() -> OutTable:
    cols = [Col(c, c) for c in ("rating", "level", "of_level", "group_key")]
    cols += [Col("allowed", "allowed", "int"), Col("holders", "holders", "int"), Col("resolution", "resolution"),
             Col("kept", "kept", "list"), Col("moved", "moved", "list")]
    return OutTable("quota", cols, result_table("quota"), ORDER_BY["quota"])


def periods_table() -> OutTable:
    cols = [Col(c, c) for c in ("entity", "id", "period", "score_name", "status")]
    cols += [Col("score", "score", "points"), Col("rating", "rating"), Col("reason", "reason")]
    return OutTable("periods", cols, result_table("periods"), ORDER_BY["periods"])


# ---------------------------------------------------------------- writers

BOM = "\ufeff".encode()


def _write_csv(con: Any, table: OutTable, path: str, places: int, bom: bool = True, neutralise: bool = True) -> None:
    """CSV in UTF-8, with a byte order mark unless asked not to: Excel reads UTF-8 only with one. With
    `neutralise`, a text cell a spreadsheet would read as a formula starts with `'`."""
    sql = table.text_sql(places, neutralise)
    if not bom:
        con.sql(sql, params=table.params or None).write_csv(path, header=True)
        return
    plain = path + ".nobom"
    con.sql(sql, params=table.params or None).write_csv(plain, header=True)
    with open(plain, "rb") as src, open(path, "wb") as dst:
        dst.write(BOM)
        shutil.copyfileobj(src, dst, 1 << 20)
    os.unlink(plain)


def _write_parquet(con: Any, sql: str, params: dict[str, Any] | None, path: str) -> None:
    con.sql(sql, params=params or None).write_parquet(path, compression="snappy")


def _json_value(value: Any, show: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return decimal_text(value, show)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def decimal_text(value: Decimal, show: str = "dec") -> str:
    """A result decimal as text: as stored for points, trailing zeros dropped otherwise."""
    if show == "points":
        return format(value, "f")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _write_json(con: Any, table: OutTable, path: str, places: int, batch: int = 10_000) -> None:
    cursor = con.execute(table.typed_sql(places), table.params or None)
    names = [json.dumps(c.name, ensure_ascii=False) for c in table.cols]
    shows = [c.show for c in table.cols]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("[")
        first = True
        while rows := cursor.fetchmany(batch):
            for row in rows:
                body = ", ".join(f"{k}: {_json_value(v, s)}" for k, v, s in zip(names, row, shows))
                fh.write(("\n" if first else ",\n") + "{" + body + "}")
                first = False
        fh.write("\n]\n" if not first else "]\n")


def _write_columns_csv(tables: Sequence[OutTable], path: str, evidence: dict[str, Any], lang: Any,
                       bom: bool, neutralise: bool = True) -> None:
    """columns.csv: for each column of each table, its label and meaning in the output's language (a label
    from the framework that reads like a formula starts with `'`, as in the tables)."""
    import csv

    cell = neutralised if neutralise else str

    from kpidsl.output.columns import column_infos

    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["table", "column", "label", "meaning"])
        for table in tables:
            for info in column_infos(table.name, [c.name for c in table.cols], evidence, lang):
                out.writerow([cell(info.table), cell(info.name), cell(info.label), cell(info.meaning)])


# ---------------------------------------------------------------- the whole set

def write_evidence(con: Any, folder: str, evidence: dict[str, Any]) -> list[str]:
    """The result tables as typed Parquet and the framework's rules as JSON, under `evidence/`.

    Items are written as the items output is (its columns, types and order: entity, id, score,
    framework order), so write_tables copies or reads back this file instead of sorting the largest
    table a second time.
    """
    places = int(evidence.get("rounding", {}).get("places", 2))
    target = os.path.join(folder, EVIDENCE_DIR)
    os.makedirs(target, exist_ok=True)
    written = []
    make_names(con, evidence)
    for table, columns in present_tables(con).items():
        cols = ", ".join(f"CAST({ident(c)} AS {t}) AS {ident(c)}" for c, t in columns)
        name = f"{EVIDENCE_DIR}/{table}.parquet"
        if table == "entities":
            # The names shown for ids go along, so explain and the sheets never need the data again.
            cols = ", ".join(f"CAST(e.{ident(c)} AS {t}) AS {ident(c)}" for c, t in columns)
            cols += ", nm.name AS name, un.name AS unit_name"
            source = (f"{result_table(table)} AS e LEFT JOIN {NAMES} AS nm ON nm.entity = e.entity AND nm.id = e.id "
                      f"LEFT JOIN {NAMES} AS un ON un.entity = 'units' AND un.id = e.unit_id")
            order = "e.entity, e.id, e.score_name NULLS FIRST"
        elif table == "items":
            source, order = _items_source(con, evidence, "i")
            cols = ", ".join(f"{_typed(c, places)} AS {ident(c.name)}" for c in _item_cols())
        else:
            source, order = result_table(table), ORDER_BY[table]
        _write_parquet(con, f"SELECT {cols} FROM {source} ORDER BY {order}", None, os.path.join(folder, name))
        written.append(name)
    with open(os.path.join(target, FRAMEWORK_EVIDENCE), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(evidence, ensure_ascii=False, indent=1) + "\n")
    written.append(f"{EVIDENCE_DIR}/{FRAMEWORK_EVIDENCE}")
    return written


def _items_source(con: Any, evidence: dict[str, Any], alias: str) -> tuple[str, str]:
    """FROM and ORDER BY of the items in output order: by entity, id, score, then as the framework lists them."""
    order_table = _order_table(con, evidence)
    source = f"{result_table('items')} AS {alias}"
    order = f"{alias}.entity, {alias}.id, {alias}.score_name NULLS FIRST, {alias}.path"
    if order_table:
        source += f" LEFT JOIN {order_table} AS o ON o.score_name = {alias}.score_name AND o.path = {alias}.path"
        order = (f"{alias}.entity, {alias}.id, {alias}.score_name NULLS FIRST, o.position NULLS LAST, "
                 f"{alias}.path")
    return source, order


def measures_table(folder: str) -> OutTable:
    """Every measure of every entity, read back from the evidence (entity, id, name order)."""
    cols = [Col(c, f"m.{c}") for c in ("entity", "id", "name")]
    cols += [Col("value", "m.value", "dec"), Col("value_text", "m.value_text"),
             Col("rows_total", "m.rows_total", "int"), Col("rows_matched", "m.rows_matched", "int")]
    return OutTable("measures", cols, "read_parquet($evidence_measures) AS m", "",
                    {"evidence_measures": os.path.join(folder, EVIDENCE_DIR, "measures.parquet")})


def output_tables(con: Any, evidence: dict[str, Any], folder: str, long: bool = False) -> list[OutTable]:
    """The tables of a run: people, units, rating steps and quota (and periods); with `long`, also the
    per-item and per-measure tables."""
    tables = [entity_table(con, "people", evidence), entity_table(con, "units", evidence)]
    if long:
        tables += [items_table(folder), measures_table(folder)]
    tables += [steps_table(), quota_table()]
    if "periods" in present_tables(con) and con.execute(
            f"SELECT count(*) FROM {result_table('periods')}").fetchall()[0][0]:
        tables.append(periods_table())  # only a roll-up run has period results
    return tables


COLUMNS_FILE = "columns.csv"


def write_tables(con: Any, folder: str, evidence: dict[str, Any], formats: Sequence[str], *, lang: Any = None,
                 long: bool = False, bom: bool = True, neutralise: bool = True) -> list[str]:
    """people, units, rating_steps and quota (and periods; items and measures with `long`) in each format
    asked, and the column labels; returns the names written.

    The evidence must be in `folder` already (write_evidence): the long tables are read back from it.
    With `neutralise`, a CSV cell a spreadsheet would read as a formula starts with `'`.
    """
    from kpidsl import faults
    from kpidsl.i18n import lang as language

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise OutputError(f"unknown output format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    t = lang or language(evidence.get("language"))
    places = int(evidence.get("rounding", {}).get("places", 2))
    make_names(con, evidence)
    tables = output_tables(con, evidence, folder, long)
    written = []
    for table in tables:
        rows = table
        if "parquet" in formats:
            parquet = os.path.join(folder, f"{table.name}.parquet")
            if table.name in ("items", "measures"):
                source = table.params[f"evidence_{table.name}"]
                shutil.copyfile(source, parquet)  # the same columns, types and order
            else:
                _write_parquet(con, table.typed_sql(places), table.params, parquet)
                rows = _read_back(table, parquet)
            faults.point("write-parquet")
        if "csv" in formats:
            _write_csv(con, rows, os.path.join(folder, f"{table.name}.csv"), places, bom, neutralise)
            written.append(f"{table.name}.csv")
            faults.point("write-csv")
        if "parquet" in formats:
            written.append(f"{table.name}.parquet")
        if "json" in formats:
            _write_json(con, rows, os.path.join(folder, f"{table.name}.json"), places)
            written.append(f"{table.name}.json")
            faults.point("write-json")
    if "csv" in formats:
        _write_columns_csv(tables, os.path.join(folder, COLUMNS_FILE), evidence, t, bom, neutralise)
        written.append(COLUMNS_FILE)
    if "xlsx" in formats:
        from kpidsl.output.workbook import TooManyRows, write_workbook

        try:
            write_workbook(con, tables, os.path.join(folder, XLSX_FILE), places, evidence, t, folder)
        except TooManyRows as err:
            raise OutputError(str(err)) from None
        written.append(XLSX_FILE)
    return written


_ORDER_SCHEMA = "kpi_out"


def _read_back(table: OutTable, parquet: str) -> OutTable:
    """The table's rows as just written to Parquet: the other formats read them from there instead of
    joining and sorting again (one file is read back in the order it was written, with the same types)."""
    cols = [Col(c.name, f"k.{ident(c.name)}", c.show) for c in table.cols]
    return OutTable(table.name, cols, "read_parquet($written) AS k", "", {"written": parquet})


def _order_table(con: Any, evidence: dict[str, Any]) -> str | None:
    rows = item_order(evidence)
    if not rows:
        return None
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(_ORDER_SCHEMA)}")
    table = qualified(_ORDER_SCHEMA, "item_order")
    con.execute(f"CREATE OR REPLACE TABLE {table} (score_name VARCHAR, path VARCHAR, position INTEGER)")
    con.executemany(f"INSERT INTO {table} VALUES ($1, $2, $3)", rows)
    return table
