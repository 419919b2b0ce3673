"""Data sources: every file format, DuckDB databases, rows given in memory, and hostile names and values."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest

from kpidsl.data.sources import MemorySource, SourceError, open_source
from test_data_helpers import PEOPLE, UNITS, balanced, kinds, load, program, rows, write

TASK_ROWS = [  # (task_id, person_id, coefficient, due, finished, errors)
    ("t1", "p1", "1.5", "2025-07-01", "2025-07-02", "0"),
    ("t2", "p2", None, "2025-09-30", None, "1"),
    ("t3", "p1", "0.1", "2025-08-01", None, "x"),  # errors is not a whole number
]
TASK_COLUMNS = ("task_id", "person_id", "coefficient", "due", "finished", "errors")
EXPECTED = [
    (1, "t1", "p1", Decimal("1.5"), dt.date(2025, 7, 1), dt.date(2025, 7, 2), 0),
    (2, "t2", "p2", Decimal("1"), dt.date(2025, 9, 30), None, 1),
    (3, "t3", "p1", Decimal("0.1"), dt.date(2025, 8, 1), None, None),
]


def entities(folder):
    return write(folder, {"units.csv": UNITS, "people.csv": PEOPLE})


def csv_text(columns, data):
    return "\n".join([",".join(columns)] + [",".join("" if v is None else v for v in r) for r in data]) + "\n"


def write_tasks(folder, fmt):
    if fmt == "csv":
        (folder / "tasks.csv").write_text(csv_text(TASK_COLUMNS, TASK_ROWS), encoding="utf-8")
    elif fmt in ("json", "jsonl"):
        records = [{k: v for k, v in zip(TASK_COLUMNS, r) if v is not None} for r in TASK_ROWS]
        records[0]["coefficient"] = 1.5  # a JSON number, not a string
        text = json.dumps(records) if fmt == "json" else "\n".join(json.dumps(r) for r in records)
        (folder / f"tasks.{fmt}").write_text(text, encoding="utf-8")
    elif fmt == "parquet":
        con = duckdb.connect()
        con.execute("CREATE TABLE t (task_id VARCHAR, person_id VARCHAR, coefficient DOUBLE, due DATE, "
                    "finished DATE, errors VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", TASK_ROWS)
        con.execute("COPY t TO $path (FORMAT parquet)", {"path": str(folder / "tasks.parquet")})
    elif fmt == "xlsx":
        import openpyxl
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(TASK_COLUMNS))
        for r in TASK_ROWS:
            values = list(r)
            values[2] = float(values[2]) if values[2] else None  # a number cell
            values[3] = dt.datetime.fromisoformat(values[3])     # a date cell
            sheet.append(values)
        book.save(folder / "tasks.xlsx")


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet", "xlsx"])
def test_every_file_format_gives_the_same_rows(tmp_path, fmt):
    folder = entities(tmp_path / "data")
    write_tasks(folder, fmt)
    result, con = load(program(tmp_path), folder)
    assert kinds(result) == {"wrong_type": 1}
    problem = result.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == (f"tasks.{fmt}", 3, "errors", "x")
    assert rows(con, "data.tasks") == EXPECTED
    assert result.counts["tasks"].read == 3 and balanced(result)
    assert next(f for f in result.files if f.input == "tasks").format == fmt


def test_duckdb_database_source(tmp_path):
    path = tmp_path / "period.duckdb"
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE units (unit_id VARCHAR, parent_id VARCHAR)")
    db.execute("INSERT INTO units VALUES ('u1', NULL), ('u2', 'u1')")
    db.execute("CREATE TABLE people (person_id VARCHAR, unit_id VARCHAR, role VARCHAR, general_points DECIMAL(5,2),"
               " disciplined BOOLEAN)")
    db.execute("INSERT INTO people VALUES ('p1', 'u1', 'head', 25, false), ('p2', 'u2', 'staff', 20.5, NULL)")
    db.execute("CREATE TABLE tasks (task_id VARCHAR, person_id VARCHAR, coefficient DOUBLE, due TIMESTAMP, "
               "finished DATE, errors BIGINT)")
    db.execute("INSERT INTO tasks VALUES ('t1', 'p1', 1.5, '2025-07-01', '2025-07-02', 0), "
               "('t2', 'p2', NULL, '2025-09-30', NULL, 1), ('t3', 'p1', 0.1, '2025-08-01 10:30', NULL, 2)")
    db.close()
    result, con = load(program(tmp_path), path)
    assert kinds(result) == {"wrong_type": 1}  # a time of day is not a date
    assert result.problems[0].render() == (
        'period.duckdb:tasks:3: column due: "2025-08-01 10:30:00" is not a date (YYYY-MM-DD)')
    assert rows(con, "data.tasks")[:2] == EXPECTED[:2]
    assert {f.format for f in result.files} == {"duckdb"}


def test_duckdb_database_without_a_table(tmp_path):
    path = tmp_path / "period.db"
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE units (unit_id VARCHAR, parent_id VARCHAR)")
    db.close()
    result, _ = load(program(tmp_path), path)
    assert kinds(result) == {"missing_file": 2, "empty_table": 1}  # and the units table has no rows
    assert result.problems[0].render() == "period.db: the database has no table people"
    assert result.problems[2].render() == "period.db:units: no rows; at least one unit is needed"


def test_memory_source_reads_python_values(tmp_path):
    source = MemorySource({
        "units": (("unit_id",), [("u1",)]),
        "people": (("person_id", "unit_id", "role", "general_points", "disciplined"),
                   [("p1", "u1", "staff", Fraction(51, 2), True), ("p2", "u1", "head", 30, None)]),
        "tasks": (("task_id", "person_id", "due", "coefficient"),
                  [("t1", "p1", dt.date(2025, 7, 1), Fraction(1, 4)), ("t2", "p2", dt.date(2025, 7, 2), Fraction(1, 3))]),
    })
    result, con = load(program(tmp_path), source)
    assert rows(con, "data.people", "person_id, general_points, disciplined") == [
        ("p1", Decimal("25.5"), True), ("p2", Decimal(30), False)]
    # 1/3 has no exact decimal form: it is refused, not rounded
    assert [(p.input, p.row, p.kind, p.value) for p in result.problems] == [("tasks", 2, "wrong_type", "1/3")]
    assert result.problems[0].file == "given tasks"


def test_memory_source_inputs_not_given_are_empty(tmp_path):
    source = MemorySource({"units": (("unit_id",), [("u1",)]),
                           "people": (("person_id", "unit_id", "role", "general_points"), [("p1", "u1", "staff", 1)])})
    result, _ = load(program(tmp_path), source)
    assert result.ok and result.counts["tasks"].read == 0


def test_open_source_refuses_other_paths(tmp_path):
    (tmp_path / "tasks.csv").write_text("x\n")
    with pytest.raises(SourceError, match="expected a folder of data files or a DuckDB database"):
        open_source(str(tmp_path / "tasks.csv"))
    with pytest.raises(SourceError, match="no such folder or file"):
        open_source(str(tmp_path / "nowhere"))


def test_file_names_match_ignoring_case(tmp_path):
    folder = entities(tmp_path / "data")
    (folder / "Tasks.CSV").write_text("task_id,person_id,due\nt1,p1,2025-07-01\n")
    result, _ = load(program(tmp_path), folder)
    assert result.ok and result.files[-1].name == "Tasks.CSV"


# ---------------------------------------------------------------- hostile names and values

HOSTILE = ["'; DROP TABLE x; --", "<script>alert(1)</script>", 'a"b', "Robert'); DROP TABLE people;--", "$p0",
           "\\'", "=HYPERLINK(\"x\")"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_hostile_values_are_only_text(tmp_path, fmt):
    folder = tmp_path / "it's; DROP TABLE x; --"
    text = ("framework h \"H\"\ninput units key unit_id { unit_id: text  parent_id: ref units? }\n"
            "input notes key note_id { note_id: text  body: text  unit_id: ref units  kind: a | b }\n"
            "units from units\n")
    write(folder, {"units.csv": "unit_id\n" + "\n".join(json.dumps(h) for h in HOSTILE) + "\n"})
    records = [(f"n{i}", h, h, h) for i, h in enumerate(HOSTILE)]
    columns = ["note_id", "body", "unit_id", "kind", "'; DROP TABLE x; --", "<script>"]
    if fmt == "csv":
        body = ",".join(json.dumps(c) for c in columns) + "\n" + "".join(
            ",".join(json.dumps(v) for v in (*r, "1", "2")) + "\n" for r in records)
        (folder / "notes.csv").write_text(body, encoding="utf-8")
    elif fmt == "parquet":
        con = duckdb.connect()
        con.execute("CREATE TABLE t (" + ", ".join('"' + c.replace('"', '""') + '" VARCHAR' for c in columns) + ")")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", [(*r, "1", "2") for r in records])
        con.execute("COPY t TO $path (FORMAT parquet)", {"path": str(folder / "notes.parquet")})
    else:
        import openpyxl
        book = openpyxl.Workbook()
        book.active.append(columns)
        for r in records:
            book.active.append([*r, "1", "2"])
        for line in book.active.iter_rows():
            for cell in line:
                cell.data_type = "s"  # "=HYPERLINK(..)" is text here, not a formula
        book.save(folder / "notes.xlsx")
    result, con = load(program(tmp_path, text), folder)
    # every hostile text is an unknown `kind`, but a valid body and unit reference
    assert kinds(result) == {"unknown_value": len(HOSTILE)}, result.problems
    assert [p.value for p in result.problems] == HOSTILE
    assert rows(con, "data.notes", "body") == [(h,) for h in HOSTILE]
    assert con.execute("SELECT count(*) FROM data.units").fetchall() == [(len(HOSTILE),)]
    assert result.problems[0].message == '"\'; DROP TABLE x; --" is not one of a, b'


def test_hostile_column_names_can_be_fields_columns(tmp_path):
    # A header that only differs in case from a field still matches; other odd headers are ignored.
    folder = write(tmp_path / "data", {"units.csv": 'UNIT_ID,"x"";DROP TABLE units;--",""\nu1,1,2\n',
                                       "people.csv": PEOPLE.replace("u2", "u1")})
    folder.joinpath("tasks.csv").write_text("task_id,person_id,due\n")
    result, con = load(program(tmp_path), folder)
    assert result.ok, result.problems
    assert rows(con, "data.units") == [(1, "u1", None)]


def test_other_files_in_the_folder_are_ignored(tmp_path):
    folder = entities(tmp_path / "data")
    (folder / "tasks.csv").write_text("task_id,person_id,due\n")
    (folder / "'; DROP TABLE x; --.csv").write_text("garbage")
    (folder / "notes.txt").write_text("garbage")
    result, _ = load(program(tmp_path), folder)
    assert result.ok and [f.input for f in result.files] == ["units", "people", "tasks"]
