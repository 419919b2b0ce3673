"""Load a period's data into typed DuckDB relations and find every problem in it, in set-based SQL.

Each input becomes `data."<input>"`: `_row` (the row's number in its file) and one
column per declared field, typed (number DECIMAL(38,10), integer BIGINT, bool
BOOLEAN, date DATE, text/enum/ref VARCHAR), holding only the rows that are used:
in the period and, with `reject_invalid`, free of problems. For data copied in
(CSV, JSON, XLSX, test rows) it is a table; for Parquet files and DuckDB
databases it is a view that reads the source at each query, so 30 million rows
are never held in memory. Every problem found is kept in `kpi_load.problems`
(for the rejects file); a capped list and a count per kind go into the DataLoad.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kpidsl.data.convert import CODE_KINDS, ISO_FORMS, TextForms, field_sql, sql_type, text_of
from kpidsl.data.problems import DEFAULT_CAP, KINDS, DataLoad, DataProblem, FieldInfo, InputCounts, row_message
from kpidsl.data.sources import DataSource, Located, Staged, StageError, Wanted
from kpidsl.period import Period
from kpidsl.semantic.resolve import Program
from kpidsl.sql.quoting import DATA_SCHEMA, WORK_SCHEMA, Constants, Params, ident, qualified
from kpidsl.syntax import nodes as n

ROW_COLUMN = "_row"
_SCOPE = ident("$scope")
_VALUE_CHARS = 200  # kept per problem; messages show fewer


@dataclass
class _Table:
    """One input while it is being loaded."""

    index: int
    input: n.Input
    table: str  # the final typed relation, data."<input>"
    file: str | None
    staged: Staged | None = None
    work: str = ""  # typed rows with the period flag and problem codes (table or view)
    codes: dict[str, str] = field(default_factory=dict)  # field name -> its problem-code column
    forms: TextForms = ISO_FORMS
    read: int = 0
    outside: int = 0
    held: tuple[Any, Any] | None = None  # first and last period date of its rows, when none is in the period


def load_and_validate(con: Any, program: Program, source: DataSource, period: Period,
                      reject_invalid: bool = False, cap: int = DEFAULT_CAP,
                      period_rows: Collection[str] | None = None) -> DataLoad:
    """Stage, type and check every input of `program` for `period`; see the module docstring.

    With `period_rows` (a run), an input placed in periods (`period by`) that has no row in `period`
    is a problem, except the inputs named in `period_rows` (allowed to be empty on purpose). A test
    block leaves it None: inputs it does not give are empty there.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(DATA_SCHEMA)}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(WORK_SCHEMA)}")
    problems_table = qualified(WORK_SCHEMA, "problems")
    con.execute(f'CREATE OR REPLACE TABLE {problems_table} (input_idx INTEGER, input VARCHAR, file VARCHAR, '
                f'row BIGINT, col_idx INTEGER, "column" VARCHAR, kind VARCHAR, value VARCHAR, detail VARCHAR)')
    inputs = list(program.inputs.values())
    located, file_problems = source.locate(con, [i.name for i in inputs])
    forms = TextForms.of(program.root)
    fields = _field_infos(program, forms)
    try:
        files = source.files(located)
        tables = [_load_input(con, i, inp, located.get(inp.name), source, period, problems_table, file_problems,
                              forms) for i, inp in enumerate(inputs)]
        _check_references(con, tables, problems_table)
        if reject_invalid:
            _reject_cascade(con, tables, problems_table)
        counts = {t.input.name: _finish(con, t, problems_table, reject_invalid) for t in tables}
    finally:
        source.close(con)
    file_problems.extend(_empty_entities(program, tables, counts, period, reject_invalid))
    if period_rows is not None:
        file_problems.extend(_empty_periods(program, tables, period, set(period_rows)))
    listed, totals = _collect(con, problems_table, file_problems, fields, inputs, cap)
    return DataLoad(period=period, reject_invalid=reject_invalid,
                    tables={t.input.name: t.table for t in tables}, counts=counts, problems=listed,
                    problem_counts=totals, files=files, problems_table=problems_table, fields=fields)


def _field_infos(program: Program, forms: TextForms = ISO_FORMS) -> dict[tuple[str, str], FieldInfo]:
    out = {}
    for inp in program.inputs.values():
        for f in inp.fields:
            target = None
            if f.type.base == "ref" and f.type.ref in program.inputs:
                key = program.inputs[f.type.ref].key
                target = f"{key} in {f.type.ref}" if key else f.type.ref
            out[(inp.name, f.name)] = FieldInfo(f, is_key=f.name == inp.key, target=target, forms=forms)
    return out


def _required(inp: n.Input, f: n.Field) -> bool:
    """A value must be present: not optional (a key always), or the column that places rows in periods."""
    return (not f.type.optional or f.name == inp.key or f.name == inp.period_by) and f.default is None


# ---------------------------------------------------------------- one input

def _load_input(con: Any, index: int, inp: n.Input, loc: Located | None, source: DataSource, period: Period,
                problems_table: str, file_problems: list[DataProblem], forms: TextForms = ISO_FORMS) -> _Table:
    import duckdb

    out = _Table(index, inp, qualified(DATA_SCHEMA, inp.name), loc.name if loc else None, forms=forms)
    if loc is not None:
        try:
            out.staged = source.stage(con, loc, [Wanted(f.name, f.label) for f in inp.fields])
        except StageError as err:
            file_problems.append(DataProblem(inp.name, loc.name, "unreadable_file", f"cannot read the file: {err}"))
    staged = out.staged
    if staged is not None:
        file_problems.extend(staged.problems)
        reported = {p.column for p in staged.problems}
        for f in inp.fields:
            if f.name not in staged.columns and f.name not in reported and _required(inp, f) and staged.found:
                shown = ", ".join(staged.found[:12]) + (", ..." if len(staged.found) > 12 else "")
                file_problems.append(DataProblem(inp.name, staged.located.name, "missing_column",
                                                 f"no column {f.name} (found: {shown})", column=f.name))
        try:
            _create_work(con, out, period)
            _row_problems(con, out, problems_table)
            return out
        except duckdb.Error as err:  # a conversion DuckDB refuses: report it, never a traceback
            file_problems.append(DataProblem(inp.name, staged.located.name, "unreadable_file",
                                             f"cannot convert the data: {str(err).splitlines()[0][:200]}"))
            out.staged = None
            out.read = out.outside = 0
    columns = ", ".join(f"{ident(f.name)} {sql_type(f)}" for f in inp.fields)
    _drop_relation(con, out.table, DATA_SCHEMA, inp.name)
    con.execute(f"CREATE OR REPLACE TABLE {out.table} ({ROW_COLUMN} BIGINT{', ' if columns else ''}{columns})")
    return out


def _drop_relation(con: Any, relation: str, schema: str, name: str) -> None:
    """Drop a table or view left by an earlier load (one cannot replace the other)."""
    kinds = con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
                        "AND table_schema = $s AND table_name = $n", {"s": schema, "n": name}).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {relation}")


def _create_work(con: Any, t: _Table, period: Period) -> None:
    """One relation over the raw rows: typed values, the period flag, and a problem code per field."""
    staged = t.staged
    assert staged is not None
    consts = Constants("kc")
    inner: list[str] = []
    outer: list[str] = [ROW_COLUMN]
    codes: list[str] = []
    scope = "true"
    for i, f in enumerate(t.input.fields):
        sql = field_sql(f, staged.columns.get(f.name), i, consts,
                        required=_required(t.input, f), period_by=f.name == t.input.period_by, forms=t.forms)
        inner.extend(sql.inner)
        outer.append(f"{sql.typed} AS {ident(f.name)}")
        code_col = ident(f"$p{i}")
        codes.append(f"{sql.code} AS {code_col}")
        t.codes[f.name] = code_col
        if f.name == t.input.period_by and f.type.base == "date":
            scope = (f"NOT coalesce(({sql.typed}) NOT BETWEEN {consts.add(period.start)} "
                     f"AND {consts.add(period.end)}, false)")
    const_table = qualified(WORK_SCHEMA, f"const_{t.index}")
    consts.create(con, const_table)
    select = ", ".join(outer + [f"{scope} AS {_SCOPE}"] + codes)
    raw = ", ".join([f'r."$row" AS {ROW_COLUMN}'] + inner)
    query = f"SELECT {select} FROM (SELECT {raw} FROM {staged.relation}) AS s CROSS JOIN {const_table} AS kc"
    _drop_relation(con, t.table, DATA_SCHEMA, t.input.name)
    if staged.materialized:
        # Copied data: type it once into the final table and let the raw copy go.
        t.work = t.table
        con.execute(f"CREATE OR REPLACE TABLE {t.work} AS {query}")
    else:
        t.work = qualified(WORK_SCHEMA, f"work_{t.index}")
        con.execute(f"CREATE OR REPLACE VIEW {t.work} AS {query}")


def _row_problems(con: Any, t: _Table, problems_table: str) -> None:
    """Problems of single cells (from the codes), then duplicate keys; one scan when all is well."""
    staged = t.staged
    assert staged is not None
    names = list(t.codes)
    counted = "".join(f", count({t.codes[name]}) FILTER (WHERE {_SCOPE})" for name in names)
    found = con.execute(f"SELECT count(*), count(*) FILTER (WHERE NOT {_SCOPE}){counted} FROM {t.work}").fetchall()[0]
    t.read, t.outside = found[0], found[1]
    dated = t.input.period_by
    if t.read and t.read == t.outside and dated and dated in staged.columns:
        # No row falls in the period: which dates the rows do have is the first thing a reader asks.
        column = ident(dated)
        t.held = con.execute(f"SELECT min({column}), max({column}) FROM {t.work}").fetchall()[0]
    kinds = " ".join(f"WHEN {code} THEN '{kind}'" for code, kind in CODE_KINDS.items())
    for name, count in zip(names, found[2:]):
        if not count:
            continue
        params = Params()
        code = f"t.{t.codes[name]}"
        con.execute(
            f"INSERT INTO {problems_table} SELECT {_head(params, t, name)}, CASE {code} {kinds} END, "
            f"left({text_of(staged.columns[name])}, {_VALUE_CHARS}), NULL "
            f"FROM {t.work} AS t JOIN {staged.relation} ON r.\"$row\" = t.{ROW_COLUMN} "
            f"WHERE {code} IS NOT NULL AND t.{_SCOPE}", params.values)
    key = t.input.key
    if key and key in staged.columns:
        _duplicate_keys(con, t, key, problems_table)


def _duplicate_keys(con: Any, t: _Table, key: str, problems_table: str) -> None:
    # First a cheap test: sort the keys' 64-bit hashes and look for neighbours that are equal
    # (sorting 30 million integers is far lighter than grouping 30 million texts). Only when
    # some hash repeats are the keys with such a hash compared exactly.
    k = ident(key)
    in_scope = f"{_SCOPE} AND {k} IS NOT NULL"
    hashes = f"SELECT hash({k}) AS h FROM {t.work} WHERE {in_scope}"
    repeats = con.execute(f"SELECT count(*) FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before FROM ({hashes})) "
                          "WHERE h = before").fetchall()[0][0]
    if not repeats:
        return
    params = Params()
    repeated = f"SELECT h FROM ({hashes}) GROUP BY h HAVING count(*) > 1"
    con.execute(
        f"INSERT INTO {problems_table} SELECT {_head(params, t, key)}, 'duplicate_key', "
        f"left(CAST(t.{k} AS VARCHAR), {_VALUE_CHARS}), CAST(d.n AS VARCHAR) "
        f"FROM {t.work} AS t JOIN (SELECT {k} AS dup_key, count(*) AS n FROM {t.work} "
        f"WHERE {in_scope} AND hash({k}) IN ({repeated}) GROUP BY 1 HAVING count(*) > 1) AS d "
        f"ON t.{k} = d.dup_key WHERE t.{_SCOPE}", params.values)


def _head(params: Params, t: _Table, column: str) -> str:
    """The leading problem columns: input_idx, input, file, row, col_idx, column."""
    col_idx = next(i for i, f in enumerate(t.input.fields) if f.name == column)
    return (f"{params.add(t.index)}, {params.add(t.input.name)}, {params.add(t.file)}, t.{ROW_COLUMN}, "
            f"{params.add(col_idx)}, {params.add(column)}")


# ---------------------------------------------------------------- across inputs

def _references(tables: list[_Table]) -> list[tuple[_Table, n.Field, _Table, n.Field]]:
    """(table, ref field, referenced table, its key field) for every checkable reference."""
    by_name = {t.input.name: t for t in tables}
    out = []
    for t in tables:
        if t.staged is None:
            continue
        for f in t.input.fields:
            target = by_name.get(f.type.ref or "") if f.type.base == "ref" else None
            if target is None or target.staged is None or not target.input.key:
                continue  # a missing or unreadable target is reported once, not at every reference
            key = next((k for k in target.input.fields if k.name == target.input.key), None)
            if key is None or key.name not in target.staged.columns or f.name not in t.staged.columns:
                continue
            out.append((t, f, target, key))
    return out


def _key_text(alias: str, key: n.Field) -> str:
    column = f"{alias}.{ident(key.name)}"
    return column if sql_type(key) == "VARCHAR" else f"CAST({column} AS VARCHAR)"


def _check_references(con: Any, tables: list[_Table], problems_table: str) -> None:
    for t, f, target, key in _references(tables):
        params = Params()
        col = f"t.{ident(f.name)}"
        con.execute(
            f"INSERT INTO {problems_table} SELECT {_head(params, t, f.name)}, 'dangling_reference', "
            f"left({col}, {_VALUE_CHARS}), NULL FROM {t.work} AS t "
            f"WHERE t.{_SCOPE} AND {col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target.work} AS u "
            f"WHERE u.{_SCOPE} AND {_key_text('u', key)} = {col})", params.values)


def _rejected_rows(problems_table: str, params: Params, t: _Table) -> str:
    return f"SELECT row FROM {problems_table} WHERE input_idx = {params.add(t.index)}"


def _reject_cascade(con: Any, tables: list[_Table], problems_table: str) -> None:
    """Rows whose reference now points only at rejected rows are rejected too.

    Repeated until nothing changes, so a rejected unit takes its sub-units, their
    people and their tasks with it; each such row gets a `rejected_reference` problem.
    """
    totals = dict(con.execute(f"SELECT input_idx, count(*) FROM {problems_table} GROUP BY 1").fetchall())
    changed = {t.index for t in tables if totals.get(t.index)}
    refs = _references(tables)
    while changed:
        newly: set[int] = set()
        for t, f, target, key in refs:
            if target.index not in changed:
                continue
            params = Params()
            col = f"t.{ident(f.name)}"
            added = con.execute(
                f"INSERT INTO {problems_table} SELECT {_head(params, t, f.name)}, 'rejected_reference', "
                f"left({col}, {_VALUE_CHARS}), {params.add(target.input.name)} FROM {t.work} AS t "
                f"WHERE t.{_SCOPE} AND {col} IS NOT NULL "
                f"AND t.{ROW_COLUMN} NOT IN ({_rejected_rows(problems_table, params, t)}) "
                f"AND NOT EXISTS (SELECT 1 FROM {target.work} AS u WHERE u.{_SCOPE} "
                f"AND u.{ROW_COLUMN} NOT IN ({_rejected_rows(problems_table, params, target)}) "
                f"AND {_key_text('u', key)} = {col})", params.values).fetchall()[0][0]
            if added:
                newly.add(t.index)
        changed = newly


def _finish(con: Any, t: _Table, problems_table: str, reject_invalid: bool) -> InputCounts:
    """Counts, then the final relation: only the used rows, only the declared columns."""
    params = Params()
    invalid = con.execute(f"SELECT count(DISTINCT row) FROM {problems_table} WHERE input_idx = $i",
                          {"i": t.index}).fetchall()[0][0]
    rejected = invalid if reject_invalid else 0
    if t.staged is None:
        return InputCounts(t.input.name, t.file)
    keep = f"{_SCOPE}"
    if rejected:
        reject_table = qualified(WORK_SCHEMA, f"rejected_{t.index}")
        con.execute(f"CREATE OR REPLACE TABLE {reject_table} AS SELECT DISTINCT row FROM {problems_table} "
                    f"WHERE input_idx = {params.add(t.index)}", params.values)
        keep += f" AND {ROW_COLUMN} NOT IN (SELECT row FROM {reject_table})"
    used = t.read - t.outside - rejected
    if t.work == t.table:
        con.execute(f"DELETE FROM {t.table} WHERE NOT ({keep})")
        for column in [_SCOPE, *t.codes.values()]:
            con.execute(f"ALTER TABLE {t.table} DROP COLUMN {column}")
        actual = con.execute(f"SELECT count(*) FROM {t.table}").fetchall()[0][0]
        if actual != used:  # every row is accounted for, or the load is wrong
            raise AssertionError(f"{t.input.name}: {t.read} read, {t.outside} outside, {rejected} rejected, "
                                 f"but {actual} kept")
    else:
        columns = ", ".join([ROW_COLUMN] + [ident(f.name) for f in t.input.fields])
        con.execute(f"CREATE OR REPLACE VIEW {t.table} AS SELECT {columns} FROM {t.work} WHERE {keep}")
    return InputCounts(t.input.name, t.file, read=t.read, outside_period=t.outside, rejected=rejected,
                       used=used, invalid=invalid)


def _empty_entities(program: Program, tables: list[_Table], counts: dict[str, InputCounts], period: Period,
                    reject_invalid: bool) -> list[DataProblem]:
    """People and units must have rows: without them nothing can be scored."""
    out = []
    by_name = {t.input.name: t for t in tables}
    for entity in (program.units, program.people):
        t = by_name.get(entity.input) if entity else None
        if t is None or t.staged is None:
            continue
        c = counts[t.input.name]
        if c.used:
            continue
        if c.read == 0:
            why = "no rows"
        elif c.read == c.outside_period:
            why = f"no rows in period {period.label}"
        elif reject_invalid and c.rejected:
            why = "every row was rejected"
        else:
            continue  # rows with problems: those problems are reported
        noun = "person" if entity is program.people else "unit"
        out.append(DataProblem(t.input.name, t.file or t.input.name, "empty_table",
                               f"{why}; at least one {noun} is needed"))
    return out


def _empty_periods(program: Program, tables: list[_Table], period: Period, allowed: set[str]) -> list[DataProblem]:
    """An input read by period with no row in the period would score everyone as if nothing happened."""
    entity_inputs = {e.input for e in (program.units, program.people) if e is not None}
    out = []
    for t in tables:
        name = t.input.name
        if not t.input.period_by or t.staged is None or name in allowed or name in entity_inputs:
            continue
        if t.read > t.outside:
            continue
        if t.held is not None and t.held[0] is not None:
            low, high = t.held
            holds = f"its rows are dated from {low.isoformat()} to {high.isoformat()}"
        else:
            holds = "it has no rows" if t.read == 0 else "no row has a date"
        out.append(DataProblem(name, t.file or name, "empty_period",
                               f"no rows in {period.label} ({period.start.isoformat()} to {period.end.isoformat()}) "
                               f"by {t.input.period_by}: {holds}; check --data and --period, or pass "
                               f"--allow-empty {name} to score the period without them"))
    return out


# ---------------------------------------------------------------- results

def _collect(con: Any, problems_table: str, file_problems: list[DataProblem],
             fields: dict[tuple[str, str], FieldInfo], inputs: list[n.Input],
             cap: int) -> tuple[list[DataProblem], dict[str, int]]:
    """At most `cap` problems per kind, in a stable order, and the full count of each kind."""
    totals: dict[str, int] = {}
    for p in file_problems:
        totals[p.kind] = totals.get(p.kind, 0) + 1
    for kind, count in con.execute(f"SELECT kind, count(*) FROM {problems_table} GROUP BY kind").fetchall():
        totals[kind] = totals.get(kind, 0) + count
    order = {name: i for i, name in enumerate(KINDS)}
    position = {inp.name: i for i, inp in enumerate(inputs)}
    ranked: list[tuple] = []
    for p in file_problems:
        ranked.append((order[p.kind], position.get(p.input, len(position)), -1, 0, p))
    rows = con.execute(
        f'SELECT input_idx, row, col_idx, input, file, "column", kind, value, detail FROM '
        f"(SELECT *, row_number() OVER (PARTITION BY kind ORDER BY input_idx, row, col_idx) AS rank "
        f"FROM {problems_table}) WHERE rank <= $cap", {"cap": cap}).fetchall()
    for idx, row, col_idx, input_name, file, column, kind, value, detail in rows:
        message = row_message(kind, fields.get((input_name, column)), value, detail)
        ranked.append((order[kind], idx, row, col_idx,
                       DataProblem(input_name, file, kind, message, row=row, column=column, value=value)))
    ranked.sort(key=lambda item: item[:4])
    listed: list[DataProblem] = []
    shown: dict[str, int] = {}
    for *_, p in ranked:
        if shown.get(p.kind, 0) < cap:
            shown[p.kind] = shown.get(p.kind, 0) + 1
            listed.append(p)
    assert all(kind in KINDS for kind in totals), totals
    return listed, totals


__all__ = ["DataLoad", "DataProblem", "InputCounts", "ROW_COLUMN", "load_and_validate"]
