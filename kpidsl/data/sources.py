"""Data sources: find each input's rows (folder of files, DuckDB file, in memory) and stage them raw.

Staging makes every source look alike to validation: a relation with a `"$row"`
column (the 1-based data row number used in messages; the header is not counted)
and the source's columns untouched — CSV as text (all_varchar, so nothing is
coerced silently), Parquet and DuckDB tables with their own types.
File and column names from the data never become SQL text except as quoted
identifiers; paths and values are bound as parameters.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import hashlib
import itertools
import os
import tempfile
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kpidsl.data.problems import DataFile, DataProblem
from kpidsl.decimals import decimal_text
from kpidsl.sql.quoting import WORK_SCHEMA, Params, ident, qualified

FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "jsonl", ".xlsx": "xlsx"}
DATABASE_SUFFIXES = (".duckdb", ".db")


class SourceError(ValueError):
    """The data source as a whole cannot be used (does not exist, is not a folder or database)."""


class StageError(Exception):
    """One input's data cannot be read; the message says why, in plain words."""


@dataclass(frozen=True)
class Located:
    """Where one input's rows are."""

    input: str
    name: str  # shown in messages: "tasks.csv", "data.duckdb:tasks", "given tasks"
    format: str
    path: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class Column:
    """A column of a staged input: its name in the file, SQL to select it, and its kind of values."""

    name: str
    sql: str  # relative to the staged relation, e.g. `r."column3"`
    family: str  # text | json | int | float | decimal | bool | date | timestamp | other


@dataclass
class Staged:
    """An input's raw rows as DuckDB sees them, before typing."""

    located: Located
    relation: str  # a FROM item aliased `r`, exposing r."$row"
    materialized: bool  # copied into a staging table (True) or read from the source at each query
    found: tuple[str, ...]  # every column name in the file, in order
    columns: dict[str, Column] = field(default_factory=dict)  # field name -> its column
    problems: list[DataProblem] = field(default_factory=list)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


class Wanted(str):
    """A field's name, carrying its label: a column headed by the label (as in a `kpidsl template` file)
    is that field's column too."""

    label: str | None = None

    def __new__(cls, name: str, label: str | None = None) -> Wanted:
        made = super().__new__(cls, name)
        made.label = label
        return made


def match_columns(located: Located, found: Sequence[str],
                  wanted: Sequence[str]) -> tuple[dict[str, int], list[DataProblem]]:
    """Field name -> index of its column: an exact name first, else ignoring case and spaces, else the
    field's label (exactly, then ignoring case and spaces).

    Two columns that both fit one field are a problem (which one is meant cannot be guessed).
    """
    out: dict[str, int] = {}
    problems = []
    for name in wanted:
        exact = [i for i, col in enumerate(found) if unicodedata.normalize("NFC", col.strip()) == name]
        close = exact or [i for i, col in enumerate(found) if _fold(col) == _fold(name)]
        label = getattr(name, "label", None)
        if not close and label:
            label = unicodedata.normalize("NFC", label).strip()
            close = ([i for i, col in enumerate(found) if unicodedata.normalize("NFC", col.strip()) == label]
                     or [i for i, col in enumerate(found) if _fold(col) == _fold(label)])
        if len(close) == 1:
            out[name] = close[0]
        elif len(close) > 1:
            names = " and ".join(f'"{found[i]}"' for i in close[:3])
            problems.append(DataProblem(located.input, located.name, "duplicate_column",
                                        f"columns {names} both match field {name}; keep one", column=name))
    return out, problems


def sha256_of(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def family_of(duck_type: str) -> str:
    """The kind of values a DuckDB column type holds, for choosing how to convert it."""
    t = duck_type.upper()
    if t == "VARCHAR":
        return "text"
    if t == "JSON":
        return "json"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"):
        return "int"
    if t in ("FLOAT", "DOUBLE"):
        return "float"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t == "BOOLEAN":
        return "bool"
    if t == "DATE":
        return "date"
    if t in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        return "timestamp"
    return "other"


def cell_text(value: Any) -> str | None:
    """A Python value (from a spreadsheet or a test block) as the text a CSV would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, Fraction):
        return decimal_text(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- staging helpers

_VIEW_NUMBERS = itertools.count(1)


class _Stager:
    """Names the staging tables and views of one load.

    Copied staging tables are dropped once the typed tables exist; views over Parquet
    files and attached databases stay, because the typed views read through them.
    """

    def __init__(self, con: Any) -> None:
        self.con = con
        self.tables: list[str] = []
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(WORK_SCHEMA)}")

    def new_table(self) -> str:
        name = qualified(WORK_SCHEMA, f"raw_{len(self.tables)}")
        self.tables.append(name)
        return name

    def new_view(self) -> str:
        # The relation API creates views in the default schema only; numbers never repeat,
        # so a later load cannot replace a view an earlier load's typed view reads.
        return f"kpi_raw_{next(_VIEW_NUMBERS)}"

    def close(self) -> None:
        for table in self.tables:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.tables.clear()


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Binder Error: ", "Conversion Error: "):
        text = text.replace(prefix, "")
    line = text.splitlines()[0] if text else type(err).__name__
    return line[:200]


def _describe(con: Any, sql: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()]


def _stage_text_rows(stager: _Stager, located: Located, header: Sequence[Any],
                     rows: Iterable[tuple[int, Sequence[Any]]], wanted: Sequence[str]) -> Staged:
    """Rows held in Python (spreadsheet, test block) -> a text staging table, via a temporary CSV.

    A temporary CSV read by DuckDB is far faster than inserting row by row.
    """
    con = stager.con
    found = tuple("" if h is None else cell_text(h) or "" for h in header)
    table = stager.new_table()
    width = len(found)
    cols = ", ".join(f"c{i} VARCHAR" for i in range(width))
    con.execute(f'CREATE TABLE {table} ("$row" BIGINT{", " + cols if cols else ""})')
    with tempfile.TemporaryDirectory(prefix="kpidsl-") as folder:
        tmp = os.path.join(folder, "rows.csv")
        count = 0
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            for number, values in rows:
                texts = [cell_text(v) for v in values][:width]
                texts += [None] * (width - len(texts))
                writer.writerow([number, *("" if t is None else t for t in texts)])
                count += 1
        if count:
            spec = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in ["r", *(f"c{i}" for i in range(width))]) + "}"
            con.execute(f"INSERT INTO {table} SELECT CAST(r AS BIGINT), * EXCLUDE (r) FROM read_csv($path, "
                        f"header=false, auto_detect=false, delim=',', quote='\"', escape='\"', "
                        f"columns={spec})", {"path": tmp})
    return _finish(located, f"{table} AS r", found,
                   [Column(name, f"r.c{i}", "text") for i, name in enumerate(found)], wanted)


def _finish(located: Located, relation: str, found: Sequence[str], columns: Sequence[Column],
            wanted: Sequence[str], materialized: bool = True) -> Staged:
    matched, problems = match_columns(located, found, wanted)
    return Staged(located, relation, materialized, tuple(found),
                  {name: columns[i] for name, i in matched.items()}, problems)


def _stage_csv(stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
    # Read with header=false: the header line becomes row 0, so column names that are
    # empty, repeated or hostile arrive as plain data and are never renamed by the reader.
    con = stager.con
    table = stager.new_table()
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv($path, all_varchar=true, header=false)",
                {"path": located.path})
    names = [name for name, _ in _describe(con, table)]
    header = con.execute(f"SELECT * FROM {table} WHERE rowid = 0").fetchall()
    found = tuple("" if v is None else v for v in header[0]) if header else ()
    relation = f'(SELECT rowid AS "$row", * FROM {table} WHERE rowid > 0) AS r'
    columns = [Column(found[i], f"r.{ident(names[i])}", "text") for i in range(len(found))]
    return _finish(located, relation, found, columns, wanted)


def _stage_parquet(stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
    # Parquet is not copied: a view reads the file, and every query scans only the columns it needs.
    # The view is made through DuckDB's relation API so the path is passed as a value, not as SQL.
    view = stager.new_view()
    relation = stager.con.read_parquet(located.path or "", file_row_number=True)
    relation.create_view(view, replace=True)
    described = [(name, t) for name, t in _describe(stager.con, ident(view)) if name != "file_row_number"]
    source = f'(SELECT file_row_number + 1 AS "$row", * FROM {ident(view)}) AS r'
    columns = [Column(name, f"r.{ident(name)}", family_of(t)) for name, t in described]
    return _finish(located, source, [c.name for c in columns], columns, wanted, materialized=False)


def _stage_json(stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
    # Each value is kept as JSON: strings are read like CSV text, numbers as numbers.
    con = stager.con
    objects = stager.new_table()
    fmt = "newline_delimited" if located.format == "jsonl" else "auto"
    con.execute(f"CREATE TABLE {objects} AS SELECT json FROM read_json_objects($path, format=$fmt)",
                {"path": located.path, "fmt": fmt})
    bad = con.execute(f"SELECT min(rowid) FROM {objects} WHERE json_type(json) <> 'OBJECT'").fetchall()[0][0]
    if bad is not None:
        raise StageError(f"record {bad + 1} is not a JSON object; write one object per row")
    found = tuple(row[0] for row in con.execute(
        f"SELECT k FROM (SELECT unnest(json_keys(json)) AS k, rowid AS i FROM {objects}) "
        "GROUP BY k ORDER BY min(i), k").fetchall())
    matched, problems = match_columns(located, found, wanted)
    params = Params("key")
    parts = [f"json_extract(json, {params.add(found[i])}) AS c{j}" for j, i in enumerate(matched.values())]
    table = stager.new_table()
    con.execute(f'CREATE TABLE {table} AS SELECT rowid + 1 AS "$row"{"".join(", " + p for p in parts)} '
                f"FROM {objects}", params.values)
    con.execute(f"DROP TABLE {objects}")
    columns = {name: Column(found[i], f"r.c{j}", "json") for j, (name, i) in enumerate(matched.items())}
    return Staged(located, f"{table} AS r", True, found, columns, problems)


def _stage_xlsx(stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
    import openpyxl  # only needed for spreadsheets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles it does not read
        try:
            book = openpyxl.load_workbook(located.path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises many kinds for a damaged file
            raise StageError(f"not a readable .xlsx workbook ({type(err).__name__}: {err})"[:200]) from err
        try:
            if not book.worksheets:
                raise StageError("the workbook has no sheet")
            sheet_rows = book.worksheets[0].iter_rows(values_only=True)
            header = next(sheet_rows, ())
            while header and header[-1] is None:
                header = header[:-1]

            def data() -> Iterable[tuple[int, Sequence[Any]]]:
                # Row numbers follow the sheet (sheet row - 1); fully empty rows are skipped.
                for number, values in enumerate(sheet_rows, start=1):
                    if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values):
                        yield number, values

            return _stage_text_rows(stager, located, header, data(), wanted)
        finally:
            book.close()


def _stage_duckdb_table(stager: _Stager, located: Located, alias: str, wanted: Sequence[str]) -> Staged:
    table = f"{ident(alias)}.main.{ident(located.table or '')}"
    described = _describe(stager.con, table)
    relation = f'(SELECT rowid + 1 AS "$row", * FROM {table}) AS r'
    columns = [Column(name, f"r.{ident(name)}", family_of(t)) for name, t in described]
    return _finish(located, relation, [c.name for c in columns], columns, wanted, materialized=False)


# ---------------------------------------------------------------- sources

class DataSource:
    """Where a period's data is: finds each input's rows, stages them, lists the files read."""

    name = "data"

    def __init__(self) -> None:
        self._stager: _Stager | None = None

    def locate(self, con: Any, inputs: Sequence[str]) -> tuple[dict[str, Located], list[DataProblem]]:
        raise NotImplementedError

    def stage(self, con: Any, located: Located, wanted: Sequence[str]) -> Staged:
        """The raw rows of one input; StageError when the file cannot be read."""
        import duckdb

        stager = self._stager_for(con)
        try:
            return self._stage(stager, located, wanted)
        except StageError:
            raise
        except (duckdb.Error, OSError, UnicodeError, ValueError) as err:
            raise StageError(_first_line(err)) from err

    def _stage(self, stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
        raise NotImplementedError

    def files(self, located: dict[str, Located]) -> list[DataFile]:
        return []

    def close(self, con: Any) -> None:
        if self._stager is not None:
            self._stager.close()
            self._stager = None

    def _stager_for(self, con: Any) -> _Stager:
        if self._stager is None or self._stager.con is not con:
            self._stager = _Stager(con)
        return self._stager


class FolderSource(DataSource):
    """A folder with one `<input>.csv|.parquet|.json|.jsonl|.xlsx` file per input."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder
        self.name = os.path.basename(os.path.normpath(folder)) or folder

    def locate(self, con: Any, inputs: Sequence[str]) -> tuple[dict[str, Located], list[DataProblem]]:
        by_stem: dict[str, list[Path]] = {}
        try:
            entries = sorted(Path(self.folder).iterdir())
        except OSError as err:
            return {}, [DataProblem(name, self.name, "unreadable_file",
                                    f"cannot list the folder: {err.strerror or err}") for name in inputs]
        for entry in entries:
            suffix = entry.suffix.lower()
            if suffix in FILE_FORMATS and entry.is_file():
                by_stem.setdefault(_fold(entry.stem), []).append(entry)
        found: dict[str, Located] = {}
        problems = []
        for name in inputs:
            candidates = by_stem.get(_fold(name), [])
            if len(candidates) == 1:
                path = candidates[0]
                found[name] = Located(name, path.name, FILE_FORMATS[path.suffix.lower()], path=str(path))
            elif not candidates:
                tried = ", ".join(f"{name}{s}" for s in FILE_FORMATS)
                problems.append(DataProblem(name, f"{name}.*", "missing_file",
                                            f"no data file for input {name} (looked for {tried})"))
            else:
                names = ", ".join(p.name for p in candidates)
                problems.append(DataProblem(name, f"{name}.*", "ambiguous_file",
                                            f"{len(candidates)} data files for input {name}: {names}; keep one"))
        return found, problems

    def _stage(self, stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
        if located.format == "csv":
            return _stage_csv(stager, located, wanted)
        if located.format == "parquet":
            return _stage_parquet(stager, located, wanted)
        if located.format in ("json", "jsonl"):
            return _stage_json(stager, located, wanted)
        return _stage_xlsx(stager, located, wanted)

    def files(self, located: dict[str, Located]) -> list[DataFile]:
        out = []
        for loc in located.values():
            try:
                digest, size = sha256_of(loc.path or "")
            except OSError:
                digest, size = "", 0  # reading it fails again while staging, and is reported there
            out.append(DataFile(loc.input, loc.path or "", loc.name, loc.format, digest, size))
        return out


_ATTACH_NUMBERS = itertools.count(1)


class DuckDBSource(DataSource):
    """A DuckDB database file with one table per input (in its `main` schema), opened read-only."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.name = os.path.basename(path)
        self.alias: str | None = None

    def locate(self, con: Any, inputs: Sequence[str]) -> tuple[dict[str, Located], list[DataProblem]]:
        import duckdb

        self._stager_for(con)
        alias = f"kpi_source_{next(_ATTACH_NUMBERS)}"
        try:
            con.execute(f"ATTACH $path AS {ident(alias)} (READ_ONLY)", {"path": self.path})
        except duckdb.Error as err:
            return {}, [DataProblem(name, self.name, "unreadable_file",
                                    f"cannot open the database: {_first_line(err)}") for name in inputs]
        self.alias = alias
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = $db "
            "AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name",
            {"db": alias}).fetchall()]
        by_fold: dict[str, list[str]] = {}
        for table in tables:
            by_fold.setdefault(_fold(table), []).append(table)
        found: dict[str, Located] = {}
        problems = []
        for name in inputs:
            exact = [t for t in tables if t == name]
            candidates = exact or by_fold.get(_fold(name), [])
            if len(candidates) == 1:
                found[name] = Located(name, f"{self.name}:{candidates[0]}", "duckdb", path=self.path,
                                      table=candidates[0])
            elif not candidates:
                problems.append(DataProblem(name, self.name, "missing_file",
                                            f"the database has no table {name}"))
            else:
                problems.append(DataProblem(name, self.name, "ambiguous_file",
                                            f"tables {', '.join(candidates)} all match input {name}; keep one"))
        return found, problems

    def _stage(self, stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
        return _stage_duckdb_table(stager, located, self.alias or "", wanted)

    def files(self, located: dict[str, Located]) -> list[DataFile]:
        if not located:
            return []
        digest, size = sha256_of(self.path)
        return [DataFile(loc.input, self.path, loc.name, "duckdb", digest, size) for loc in located.values()]


class MemorySource(DataSource):
    """Rows given in Python (a `test` block): input -> (column names, rows of values).

    Values are Python values (str, int, Fraction, Decimal, bool, date, None) read as a CSV
    would read their text. An input that is not given is an empty table.
    """

    def __init__(self, tables: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
                 absent_is_empty: bool = True) -> None:
        super().__init__()
        self.tables = tables
        self.absent_is_empty = absent_is_empty
        self.name = "given"

    def locate(self, con: Any, inputs: Sequence[str]) -> tuple[dict[str, Located], list[DataProblem]]:
        found = {}
        problems = []
        for name in inputs:
            if name in self.tables or self.absent_is_empty:
                found[name] = Located(name, f"given {name}", "memory")
            else:
                problems.append(DataProblem(name, f"given {name}", "missing_file", f"no rows given for input {name}"))
        return found, problems

    def _stage(self, stager: _Stager, located: Located, wanted: Sequence[str]) -> Staged:
        if located.input not in self.tables:
            # Not given: an empty table that has every declared column.
            return _stage_text_rows(stager, located, tuple(wanted), (), wanted)
        columns, rows = self.tables[located.input]
        return _stage_text_rows(stager, located, tuple(columns),
                                zip(itertools.count(1), rows), wanted)


def open_source(path: str) -> DataSource:
    """A folder of files or a DuckDB database file; SourceError if it is neither."""
    if os.path.isdir(path):
        return FolderSource(path)
    if os.path.isfile(path):
        if path.lower().endswith(DATABASE_SUFFIXES):
            return DuckDBSource(path)
        raise SourceError(f"{path}: expected a folder of data files or a DuckDB database "
                          f"({', '.join(DATABASE_SUFFIXES)})")
    raise SourceError(f"{path}: no such folder or file")
