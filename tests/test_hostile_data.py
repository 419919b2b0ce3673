"""Hostile data files: each is refused with a message naming what is wrong and what to do, or read right.

The corpus: every case builds its files (the large ones generated here, a few megabytes
at most) into a data folder for the demo framework of tests/test_data_helpers.py, and
states the one problem kpidsl must report — never DuckDB's "CSV Error on Line: N", never
a value read wrong in silence, never an internal error.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner

from kpidsl import cli
from kpidsl.data.problems import render_problems
from kpidsl.data.sources import SourceError, open_source
from test_data_helpers import DEMO, PEOPLE, TASKS, UNITS, load, program, write

TASK_HEADER = "task_id,person_id,coefficient,due,finished,errors\n"
TASK_ROW = "t1,p1,1.5,2025-07-01,,0\n"


def _tasks(text: str | bytes) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / "tasks.csv").write_bytes(data)
    return build


def _long_line(folder: Path) -> None:
    # Generated: one line of 3 MB, longer than a CSV line may be.
    with open(folder / "tasks.csv", "w", encoding="utf-8") as fh:
        fh.write(TASK_HEADER + TASK_ROW + "t2,p1,1," + "9" * 3_000_000 + ",,0\n")


def _xlsx(build_sheets: Callable[[openpyxl.Workbook], None]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        book = openpyxl.Workbook()
        build_sheets(book)
        book.save(folder / "tasks.xlsx")
    return build


def _task_rows(sheet) -> None:
    sheet.append(["task_id", "person_id", "coefficient", "due", "finished", "errors"])
    sheet.append(["t1", "p1", 1.5, dt.datetime(2025, 7, 1), None, 0])
    sheet.append(["t2", "p2", 2, dt.datetime(2025, 8, 1), None, 1])


def _hidden_first(book) -> None:
    book.active.title = "draft"
    _task_rows(book.active)
    book.active.append(["t3", "p9", 1, dt.datetime(2025, 8, 1), None, 0])  # a row that dangles
    book.active.sheet_state = "hidden"
    _task_rows(book.create_sheet("final"))


def _two_visible(book) -> None:
    _task_rows(book.active)
    book.create_sheet("notes")


def _formula_without_value(book) -> None:
    _task_rows(book.active)
    book.active["F3"] = "=1+1"  # openpyxl saves a formula without its computed value


def _stray_cell(book) -> None:
    _task_rows(book.active)
    book.active["XFD1048576"] = "stray"  # the sheet now spans 16,384 columns and a million rows


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # CSV: text that is not UTF-8, lines DuckDB cannot read, dialects it guesses wrong
    "csv-latin1": (_tasks((TASK_HEADER + "t\xe91,p1,1,2025-07-01,,0\n").encode("latin-1")),
                   "tasks.csv: cannot read the file: line 2, byte 0xE9 at column 2 is not UTF-8 text (it may be "
                   "Windows-1252 or Latin-1, as older spreadsheets save CSV); save it as UTF-8 (in Excel: "
                   '"CSV UTF-8 (Comma delimited)")'),
    "csv-utf16": (_tasks((TASK_HEADER + TASK_ROW).encode("utf-16")),
                  "tasks.csv: cannot read the file: the file is UTF-16 text, not UTF-8; save it as UTF-8"),
    "csv-bad-utf8": (_tasks((TASK_HEADER + TASK_ROW).encode() + b"t2,\xff,1,2025-07-01,,0\n"),
                     "tasks.csv: cannot read the file: line 3, byte 0xFF at column 4 is not UTF-8 text"),
    "csv-nul": (_tasks(b"task_id\x00,person_id\n"),
                "tasks.csv: cannot read the file: the file holds NUL bytes: it is not a text file, or it is UTF-16"),
    "csv-long-line": (_long_line, "tasks.csv: cannot read the file: line 3 is longer than 2,097,152 bytes, the most "
                                  "a line may hold; is this a CSV file?"),
    "csv-ragged-row": (_tasks(TASK_HEADER + TASK_ROW + "t2,p1,1,2025-07-01,,0,extra\n"),
                       "tasks.csv: cannot read the file: line 3 has 7 values, the header (line 1) has 6 values "
                       'separated by a comma; a value holding a comma must be in double quotes ("...")'),
    "csv-short-row": (_tasks(TASK_HEADER + "t2,p1,1\n" + TASK_ROW),
                      "tasks.csv: cannot read the file: line 2 has 3 values, the header (line 1) has 6 values"),
    "csv-preamble": (_tasks("Tasks of the third quarter\n" + TASK_HEADER + TASK_ROW),
                     "tasks.csv: cannot read the file: line 1 has 1 value and line 2 has 6: if a title or notes "
                     "stand above the header, remove them so that the header is the first line"),
    "csv-unclosed-quote": (_tasks(TASK_HEADER + 't1,"p1,1,2025-07-01,,0\n' + TASK_ROW.replace("t1", "t2")),
                           'tasks.csv: cannot read the file: line 2: a value opens a double quote (") that is never '
                           'closed; close it, or write a quote inside a quoted value as two ("")'),
    "csv-mixed-line-ends": (_tasks(TASK_HEADER.replace("\n", "\r\n") + TASK_ROW + TASK_ROW.replace("t1", "t2")),
                            "tasks.csv: cannot read the file: the lines end in two ways: with CR LF (Windows, line 1) "
                            "and with LF alone (line 2); save the file again so that every line ends the same way"),
    "csv-semicolons": (_tasks(TASK_HEADER.replace(",", ";") + "t1;p1;1,5;2025-07-01;;0\n"),
                       'tasks.csv:1: column coefficient: "1,5" has a comma: write numbers with a decimal point (1.5) '
                       "and without thousands separators (1500)"),
    # numbers: out of range is not "not a number"; what to write instead
    "number-too-large": (_tasks(TASK_HEADER + "t1,p1," + "9" * 29 + ",2025-07-01,,0\n"),
                         'tasks.csv:1: column coefficient: "' + "9" * 29 + '" is out of range: a number may have at '
                         "most 28 digits before the decimal point"),
    "integer-too-large": (_tasks(TASK_HEADER + "t1,p1,1,2025-07-01,,99999999999999999999\n"),
                          'tasks.csv:1: column errors: "99999999999999999999" is out of range: a whole number must be '
                          "between -9223372036854775808 and 9223372036854775807"),
    "number-too-precise": (_tasks(TASK_HEADER + "t1,p1,0.12345678901,2025-07-01,,0\n"),
                           'tasks.csv:1: column coefficient: "0.12345678901" has more than 10 decimals; round it to '
                           "10 or fewer"),
    "number-exponent": (_tasks(TASK_HEADER + "t1,p1,1.5E+3,2025-07-01,,0\n"),
                        'tasks.csv:1: column coefficient: "1.5E+3" is written with an exponent; write the number out '
                        "(1500)"),
    # JSON: a key twice is two values for one cell
    "json-duplicate-key": (lambda f: (f / "tasks.json").write_text(
        '[{"task_id": "t1", "person_id": "p1", "due": "2025-07-01", "errors": 0, "errors": 5}]', encoding="utf-8"),
        'tasks.json: cannot read the file: record 1 has the key "errors" twice; which value is meant cannot be '
        "known: keep one"),
    # XLSX: which sheet, formulas without values, a cell far away
    "xlsx-two-visible-sheets": (_xlsx(_two_visible),
                                "tasks.xlsx: cannot read the file: the workbook has 2 visible sheets (Sheet, notes) "
                                "and none is named tasks; name the sheet to read tasks, or keep only that sheet "
                                "visible"),
    "xlsx-formula-without-value": (_xlsx(_formula_without_value),
                                   "tasks.xlsx: cannot read the file: sheet Sheet: cell F3 holds a formula saved "
                                   "without its result; open the workbook in a spreadsheet program and save it"),
    # unit trees: a unit above itself
    "unit-own-parent": (lambda f: (f / "units.csv").write_text("unit_id,parent_id\nu1,\nu2,u2\n", encoding="utf-8"),
                        'units.csv:2: column parent_id: "u2" is the unit itself: a unit cannot be its own parent'),
    "unit-cycle": (lambda f: (f / "units.csv").write_text("unit_id,parent_id\nu1,u3\nu2,u1\nu3,u2\n",
                                                          encoding="utf-8"),
                   'units.csv:1: column parent_id: "u3" makes a cycle in the unit tree: u1 -> u3 -> u2 -> u1; '
                   "a unit cannot be above itself"),
}


def _folder(tmp_path: Path, build: Callable[[Path], None]) -> Path:
    folder = write(tmp_path / "data", {"units.csv": UNITS, "people.csv": PEOPLE, "tasks.csv": TASKS})
    (folder / "tasks.csv").unlink()
    build(folder)
    if not any(folder.glob("tasks.*")):
        (folder / "tasks.csv").write_text(TASKS, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_gets_a_message_to_act_on(tmp_path, name):
    build, expected = CASES[name]
    result, _ = load(program(tmp_path), _folder(tmp_path, build))
    text = render_problems(result)
    assert not result.ok
    assert expected in text, text
    assert "CSV Error" not in text and "Error:" not in text


def test_every_message_is_seen_through_the_command_line(tmp_path, monkeypatch):
    # One case end to end: exit 2, the message on stderr, nothing written.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo.kpi").write_text(DEMO + 'score s for people { criterion c points 100 = general_points }\n',
                                       encoding="utf-8")
    _folder(tmp_path, CASES["csv-ragged-row"][0])
    result = CliRunner().invoke(cli.main, ["run", "demo.kpi", "--data", "data", "--period", "2025-Q3", "--out", "o"])
    assert result.exit_code == 2
    assert "tasks.csv: cannot read the file: line 3 has 7 values" in result.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- read right, not refused

def test_semicolon_separated_values_are_read_as_columns(tmp_path):
    folder = _folder(tmp_path, _tasks(TASK_HEADER.replace(",", ";") + "t1;p1;1.5;2025-07-01;;0\n"))
    result, con = load(program(tmp_path), folder)
    assert result.ok, render_problems(result)
    assert con.execute("SELECT task_id, coefficient FROM data.tasks").fetchall() == [("t1", 1.5)]


def test_semicolons_win_over_decimal_commas(tmp_path):
    # Every line splits in two at `;` and at `,`: the semicolons are the delimiter, the commas decimal.
    folder = _folder(tmp_path, lambda f: None)
    (folder / "people.csv").write_text("person_id;general_points, of 30\np1;25,5\n", encoding="utf-8")
    result, _ = load(program(tmp_path), folder)
    assert ("people.csv: no column unit_id (found: person_id, general_points, of 30)"
            in render_problems(result)), render_problems(result)


def test_carriage_returns_inside_quoted_values_are_kept(tmp_path):
    folder = _folder(tmp_path, _tasks((TASK_HEADER + 't1,"p\r1",1,2025-07-01,,0\n').replace("\n", "\r\n")))
    result, con = load(program(tmp_path), folder)
    assert 'tasks.csv:1: column person_id: "p\\r1" matches no person_id in people' in render_problems(result)


def test_a_hidden_sheet_is_never_read(tmp_path):
    result, con = load(program(tmp_path), _folder(tmp_path, _xlsx(_hidden_first)))
    assert result.ok, render_problems(result)  # the visible sheet, without the hidden one's dangling row
    assert con.execute("SELECT task_id FROM data.tasks ORDER BY 1").fetchall() == [("t1",), ("t2",)]


def test_the_sheet_named_after_the_input_is_read(tmp_path):
    def named(book) -> None:
        book.active.title = "Read me"
        book.active.append(["nothing"])
        _task_rows(book.create_sheet(" Tasks "))

    result, con = load(program(tmp_path), _folder(tmp_path, _xlsx(named)))
    assert result.ok, render_problems(result)
    assert con.execute("SELECT count(*) FROM data.tasks").fetchall() == [(2,)]


def test_a_stray_cell_at_column_xfd_costs_nothing(tmp_path):
    # The sheet claims 16,384 columns and a million rows; only the matched columns are read.
    import tracemalloc

    folder = _folder(tmp_path, _xlsx(_stray_cell))
    tracemalloc.start()
    result, con = load(program(tmp_path), folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.ok, render_problems(result)
    assert con.execute("SELECT count(*) FROM data.tasks").fetchall() == [(2,)]
    assert peak < 50_000_000


def test_cached_formula_results_are_read(tmp_path):
    # A workbook saved by a spreadsheet program keeps each formula's result: that value is read.
    import zipfile

    folder = _folder(tmp_path, _xlsx(_task_rows_with_formula))
    path = folder / "tasks.xlsx"
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("<f>1+1</f><v />", "<f>1+1</f><v>2</v>").encode()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    result, con = load(program(tmp_path), folder)
    assert result.ok, render_problems(result)
    assert con.execute("SELECT errors FROM data.tasks WHERE task_id = 't2'").fetchall() == [(2,)]


def test_a_carriage_return_a_workbook_stored_is_read_back(tmp_path):
    # A workbook stores CR as `_x000D_` and a literal `_x0041_` as `_x005F_x0041_`: read as written.
    def escaped(book) -> None:
        _task_rows(book.active)
        book.active["A2"] = "t_x000D_1"
        book.active["A3"] = "t_x005F_x0041_2"

    result, con = load(program(tmp_path), _folder(tmp_path, _xlsx(escaped)))
    assert result.ok, render_problems(result)
    assert con.execute("SELECT task_id FROM data.tasks ORDER BY _row").fetchall() == [("t\r1",), ("t_x0041_2",)]


def _task_rows_with_formula(book) -> None:
    _task_rows(book.active)
    book.active["F3"] = "=1+1"


# ---------------------------------------------------------------- databases

def _database(tmp_path: Path, tasks_sql: list[str]) -> Path:
    path = tmp_path / "period.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE units (unit_id VARCHAR, parent_id VARCHAR)")
        db.execute("INSERT INTO units VALUES ('u1', NULL), ('u2', 'u1')")
        db.execute("CREATE TABLE people (person_id VARCHAR, unit_id VARCHAR, role VARCHAR, general_points DOUBLE)")
        db.execute("INSERT INTO people VALUES ('p1', 'u1', 'head', 25), ('p2', 'u2', 'staff', 20.5)")
        for sql in tasks_sql:
            db.execute(sql)
    return path


def test_a_column_named_rowid_is_not_the_row_number(tmp_path):
    # The user's `rowid` column says 1 for the second row: the problem must still be on row 2, and with
    # --reject-invalid the first row must stay.
    path = _database(tmp_path, ["CREATE TABLE tasks (task_id VARCHAR, person_id VARCHAR, due DATE, rowid BIGINT)",
                                "INSERT INTO tasks VALUES ('t1', 'p1', DATE '2025-07-01', 2), "
                                "('t2', 'p9', DATE '2025-07-02', 1)"])
    result, _ = load(program(tmp_path), open_source(str(path)))
    assert render_problems(result).splitlines()[1] == \
        '  period.duckdb:tasks:2: column person_id: "p9" matches no person_id in people'
    kept, con = load(program(tmp_path), open_source(str(path)), reject=True)
    assert con.execute("SELECT _row, task_id FROM data.tasks").fetchall() == [(1, "t1")]


def test_generated_columns_are_never_evaluated(tmp_path):
    path = _database(tmp_path, [
        "CREATE TABLE tasks (task_id VARCHAR, person_id VARCHAR, due DATE, "
        "errors VARCHAR GENERATED ALWAYS AS (current_setting('temp_directory')) VIRTUAL)",
        "INSERT INTO tasks (task_id, person_id, due) VALUES ('t1', 'p1', DATE '2025-07-01')"])
    result, _ = load(program(tmp_path), open_source(str(path)))
    text = render_problems(result)
    assert ("period.duckdb:tasks: column errors is computed by the database (GENERATED); kpidsl reads stored "
            "values only: store the values in a column") in text
    assert ".tmp" not in text and "temp" not in text


def test_a_view_named_like_an_input_is_called_a_view(tmp_path):
    path = _database(tmp_path, ["CREATE TABLE t0 (task_id VARCHAR, person_id VARCHAR, due DATE)",
                                "CREATE VIEW tasks AS SELECT * FROM t0"])
    result, _ = load(program(tmp_path), open_source(str(path)))
    assert ("period.duckdb: tasks is a view, not a table: kpidsl reads tables only, because a view runs the "
            "database's code; store its rows in a table (CREATE TABLE tasks AS SELECT ...)") in render_problems(result)


def test_a_sqlite_file_is_refused_without_reaching_for_an_extension(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    path = tmp_path / "period.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (task_id TEXT)")
    with pytest.raises(SourceError) as err:
        open_source(str(path))
    assert str(err.value) == (f"{path}: a SQLite database, not a DuckDB database; give a DuckDB database (.duckdb), "
                              "or a folder of CSV, Parquet, JSON or XLSX files, one per input")
    # Even opened past that check, DuckDB neither downloads an extension nor makes ~/.duckdb.
    from kpidsl.data.sources import DuckDBSource

    result, _ = load(program(tmp_path), DuckDBSource(str(path)))
    assert "a SQLite database, not a DuckDB database" in render_problems(result)
    assert not (tmp_path / "home" / ".duckdb").exists()


def test_parquet_columns_named_like_the_row_number_are_plain_columns(tmp_path):
    folder = _folder(tmp_path, lambda f: None)
    (folder / "tasks.csv").unlink()
    with duckdb.connect() as con:
        con.execute("COPY (SELECT * FROM (VALUES ('t1', 'p1', DATE '2025-07-01', 7, 8), "
                    "('t2', 'p9', DATE '2025-07-01', 1, 1)) AS v(task_id, person_id, due, file_row_number, \"$row\")) "
                    "TO $p (FORMAT parquet)", {"p": str(folder / "tasks.parquet")})
    result, _ = load(program(tmp_path), folder)
    assert '  tasks.parquet:2: column person_id: "p9" matches no person_id in people' in render_problems(result)


# ---------------------------------------------------------------- paths that are not files

@pytest.mark.parametrize(("make", "words"), [
    (lambda p: os.symlink(p.name + "-loop", p) or os.symlink(p.name, str(p) + "-loop"), "it is a loop of symbolic links"),
    (lambda p: os.mkfifo(p), "it is a named pipe (FIFO), not a folder of data files or a DuckDB database"),
    (lambda p: os.symlink("/dev/zero", p), "it is a device, not a folder of data files or a DuckDB database"),
    (lambda p: os.symlink(p.name + "-gone", p), "it is a symbolic link to data-gone, which does not exist"),
])
def test_a_source_that_is_not_a_folder_or_a_file_says_what_it_is(tmp_path, make, words):
    path = tmp_path / "data"
    make(path)
    with pytest.raises(SourceError) as err:
        open_source(str(path))
    assert str(err.value) == f"{path}: {words}"


def test_a_data_file_that_is_a_pipe_is_not_missing(tmp_path):
    folder = _folder(tmp_path, lambda f: None)
    (folder / "tasks.csv").unlink()
    os.mkfifo(folder / "tasks.csv")
    result, _ = load(program(tmp_path), folder)
    assert "tasks.csv: cannot read the file: it is a named pipe (FIFO), not a file" in render_problems(result)
