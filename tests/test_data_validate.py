"""Loading and validating data: every problem kind, typing, defaults, periods, counts, rejects."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from kpidsl.data.problems import render_problems, write_rejects
from test_data_helpers import DEMO, PEOPLE, TASKS, UNITS, balanced, kinds, load, program, rows, write


def demo(tmp_path, units=UNITS, people=PEOPLE, tasks=TASKS, **kw):
    folder = write(tmp_path / "data", {"units.csv": units, "people.csv": people, "tasks.csv": tasks})
    return load(program(tmp_path), folder, **kw)


# ---------------------------------------------------------------- clean data

def test_clean_data_is_typed_and_counted(tmp_path):
    result, con = demo(tmp_path)
    assert result.ok and result.total_problems == 0 and render_problems(result) == ""
    assert result.tables["tasks"] == '"data"."tasks"'
    types = dict(con.execute('SELECT column_name, data_type FROM information_schema.columns '
                             "WHERE table_schema = 'data' AND table_name = 'tasks'").fetchall())
    assert types == {"_row": "BIGINT", "task_id": "VARCHAR", "person_id": "VARCHAR",
                     "coefficient": "DECIMAL(38,10)", "due": "DATE", "finished": "DATE", "errors": "BIGINT"}
    assert rows(con, "data.tasks") == [
        (1, "t1", "p1", Decimal("1.5"), dt.date(2025, 7, 1), dt.date(2025, 7, 2), 0),
        # empty coefficient takes its default 1; empty optional `finished` stays missing
        (2, "t2", "p2", Decimal("1"), dt.date(2025, 9, 30), None, 1),
    ]
    assert rows(con, "data.people", "person_id, general_points, disciplined") == [
        ("p1", Decimal("25"), False), ("p2", Decimal("20.5"), False)]
    assert {k: (c.read, c.used, c.rejected, c.outside_period) for k, c in result.counts.items()} == {
        "units": (2, 2, 0, 0), "people": (2, 2, 0, 0), "tasks": (2, 2, 0, 0)}
    assert [f.name for f in result.files] == ["units.csv", "people.csv", "tasks.csv"]
    assert all(len(f.sha256) == 64 for f in result.files)


def test_file_hash_is_the_sha256_of_the_bytes(tmp_path):
    import hashlib
    result, _ = demo(tmp_path)
    tasks = next(f for f in result.files if f.input == "tasks")
    assert tasks.sha256 == hashlib.sha256(TASKS.encode()).hexdigest() and tasks.size == len(TASKS.encode())


# ---------------------------------------------------------------- how text is read

NUMBERS = """\
framework n "N"
input things key id { id: text  x: number?  i: integer?  b: bool?  d: date?  e: red | green? }
"""


@pytest.mark.parametrize("column, text, value", [
    ("x", "12", Decimal("12")), ("x", "-0.5", Decimal("-0.5")), ("x", ".5", Decimal("0.5")),
    ("x", "+2", Decimal("2")), ("x", "25%", Decimal("0.25")), ("x", " 7.25 ", Decimal("7.25")),
    ("x", "0.1234567891", Decimal("0.1234567891")), ("x", "12.5%", Decimal("0.125")),
    ("i", "12", 12), ("i", "-3", -3), ("i", "12.0", 12), ("i", "9223372036854775807", 9223372036854775807),
    ("b", "true", True), ("b", "FALSE", False), ("b", "Yes", True), ("b", "no", False), ("b", "1", True),
    ("b", "0", False), ("d", "2025-02-28", dt.date(2025, 2, 28)), ("d", "2024-02-29", dt.date(2024, 2, 29)),
    ("e", " red ", "red"),
])
def test_values_read_from_text(tmp_path, column, text, value):
    folder = write(tmp_path / "data", {"things.csv": f'id,{column}\na,"{text}"\n'})
    result, con = load(program(tmp_path, NUMBERS), folder)
    assert result.ok, render_problems(result)
    assert con.execute(f'SELECT "{column}" FROM data.things').fetchall() == [(value,)]


@pytest.mark.parametrize("column, text", [
    ("x", "abc"), ("x", "1e3"), ("x", "1,5"), ("x", "1.000,5"), ("x", "0.12345678901"), ("x", "12%%"),
    ("x", "NaN"), ("x", "--1"), ("i", "1.5"), ("i", "12a"),
    ("b", "maybe"), ("b", "2"), ("b", "t"), ("d", "2025-02-30"), ("d", "2025-9-1"), ("d", "01/09/2025"),
    ("d", "2025-09-01 10:00"), ("d", "0000-01-01"),
])
def test_wrong_types(tmp_path, column, text):
    folder = write(tmp_path / "data", {"things.csv": f'id,{column}\na,"{text}"\n'})
    result, _ = load(program(tmp_path, NUMBERS), folder)
    assert kinds(result) == {"wrong_type": 1}
    problem = result.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == ("things.csv", 1, column, text)
    assert not result.ok


def test_wrong_type_messages(tmp_path):
    folder = write(tmp_path / "data", {"things.csv": 'id,x,i,b,d\na,abc,1.5,maybe,2025-02-30\n'})
    result, _ = load(program(tmp_path, NUMBERS), folder)
    assert render_problems(result) == (
        "wrong type (4):\n"
        '  things.csv:1: column x: "abc" is not a number (like 12, 0.5 or 25%)\n'
        '  things.csv:1: column i: "1.5" is not a whole number\n'
        '  things.csv:1: column b: "maybe" is not true or false (also yes/no, 1/0)\n'
        '  things.csv:1: column d: "2025-02-30" is not a date (YYYY-MM-DD)\n'
        "4 problems in 1 row\n")


# ---------------------------------------------------------------- every problem kind

def test_out_of_range(tmp_path):
    people = PEOPLE.replace("p1,u1,head,25", "p1,u1,head,30.0001").replace("p2,u2,staff,20.5", "p2,u2,staff,-1")
    tasks = TASKS.replace("t1,p1,1.5", "t1,p1,0").replace("2025-07-02,0", "2025-07-02,-2")
    result, _ = demo(tmp_path, people=people, tasks=tasks)
    assert kinds(result) == {"out_of_range": 4}
    assert [p.render() for p in result.problems] == [
        'people.csv:1: column general_points: "30.0001" is out of range: must be between 0 and 30',
        'people.csv:2: column general_points: "-1" is out of range: must be between 0 and 30',
        'tasks.csv:1: column coefficient: "0" is out of range: must be > 0',
        'tasks.csv:1: column errors: "-2" is out of range: must be >= 0',
    ]


def test_bounds_are_inclusive_where_declared(tmp_path):
    people = PEOPLE.replace("p1,u1,head,25", "p1,u1,head,30").replace("p2,u2,staff,20.5", "p2,u2,staff,0")
    result, _ = demo(tmp_path, people=people)
    assert result.ok


def test_unknown_enum_value(tmp_path):
    result, _ = demo(tmp_path, people=PEOPLE.replace("head", "Head"))
    assert kinds(result) == {"unknown_value": 1}
    assert result.problems[0].render() == 'people.csv:1: column role: "Head" is not one of staff, deputy, head'


def test_empty_required_values(tmp_path):
    people = PEOPLE.replace("p2,u2,staff,20.5,", "p2,,staff,  ,")
    result, _ = demo(tmp_path, people=people, tasks=TASKS.replace("t2,", ","))
    assert kinds(result) == {"empty_value": 3}
    assert [p.render() for p in result.problems] == [
        "people.csv:2: column unit_id: no value, and the field is required",
        "people.csv:2: column general_points: no value, and the field is required",
        "tasks.csv:2: column task_id: no value, and the key is required",
    ]


def test_no_period_date(tmp_path):
    result, _ = demo(tmp_path, tasks=TASKS.replace("2025-09-30", ""))
    assert kinds(result) == {"no_period": 1}
    assert result.problems[0].render() == "tasks.csv:2: column due: no date, so the row cannot be placed in a period"


def test_duplicate_keys_name_every_copy(tmp_path):
    tasks = TASKS + "t1,p2,1,2025-08-01,,0\n"
    result, _ = demo(tmp_path, tasks=tasks)
    assert kinds(result) == {"duplicate_key": 2}
    assert [(p.row, p.message) for p in result.problems] == [
        (1, '"t1" appears in 2 rows; a key must be unique'), (3, '"t1" appears in 2 rows; a key must be unique')]


def test_duplicate_key_outside_the_period_is_not_a_problem(tmp_path):
    result, _ = demo(tmp_path, tasks=TASKS + "t1,p2,1,2025-01-15,,0\n")
    assert result.ok and result.counts["tasks"].outside_period == 1


def test_dangling_references(tmp_path):
    result, _ = demo(tmp_path, units=UNITS + "u3,u9\n", tasks=TASKS.replace("t2,p2", "t2,p7"))
    assert kinds(result) == {"dangling_reference": 2}
    assert [p.render() for p in result.problems] == [
        'units.csv:3: column parent_id: "u9" matches no unit_id in units',
        'tasks.csv:2: column person_id: "p7" matches no person_id in people',
    ]


def test_reference_to_a_row_outside_the_period_dangles(tmp_path):
    text = DEMO + "input notes key note_id { note_id: text  task_id: ref tasks }\n"
    folder = write(tmp_path / "data", {"units.csv": UNITS, "people.csv": PEOPLE,
                                       "tasks.csv": TASKS + "t9,p1,1,2025-01-02,,0\n",
                                       "notes.csv": "note_id,task_id\nn1,t1\nn2,t9\n"})
    result, _ = load(program(tmp_path, text), folder)
    assert [(p.input, p.row, p.kind) for p in result.problems] == [("notes", 2, "dangling_reference")]


def test_missing_file_and_ambiguous_file(tmp_path):
    folder = write(tmp_path / "data", {"units.csv": UNITS, "units.json": "[]", "people.csv": PEOPLE})
    result, _ = load(program(tmp_path), folder, reject=True)
    assert kinds(result) == {"missing_file": 1, "ambiguous_file": 1}
    assert render_problems(result) == (
        "missing file (1):\n"
        "  tasks.*: no data file for input tasks (looked for tasks.csv, tasks.parquet, tasks.json, tasks.jsonl, "
        "tasks.xlsx)\n"
        "more than one file (1):\n"
        "  units.*: 2 data files for input units: units.csv, units.json; keep one\n"
        "2 problems\n")
    assert result.fatal and not result.ok  # rejecting rows cannot fix a missing file


def test_missing_file_still_creates_an_empty_typed_table(tmp_path):
    folder = write(tmp_path / "data", {"units.csv": UNITS, "people.csv": PEOPLE})
    result, con = load(program(tmp_path), folder)
    assert con.execute("SELECT count(*) FROM data.tasks").fetchall() == [(0,)]
    assert result.counts["tasks"].read == 0


def test_missing_columns(tmp_path):
    people = "person_id,unit_id,general_points,extra\np1,u1,25,x\n"  # role missing; disciplined has a default
    result, con = demo(tmp_path, people=people, tasks="task_id,person_id,due\nt1,p1,2025-07-01\n")
    assert kinds(result) == {"missing_column": 1}
    assert result.problems[0].render() == (
        "people.csv: no column role (found: person_id, unit_id, general_points, extra)")
    # missing optional/defaulted columns take their defaults
    assert rows(con, "data.tasks", "coefficient, finished, errors") == [(Decimal(1), None, 0)]


def test_column_names_ignore_case_and_spaces_but_not_twice(tmp_path):
    tasks = "Task_ID, Person_Id ,DUE\nt1,p1,2025-07-01\n"
    result, _ = demo(tmp_path, tasks=tasks)
    assert result.ok
    result, _ = demo(tmp_path, tasks="due,Due,task_id,person_id\n2025-07-01,2025-07-01,t1,p1\n")
    assert result.ok  # an exact match wins
    result, _ = demo(tmp_path, tasks="DUE,Due,task_id,person_id\n2025-07-01,2025-07-01,t1,p1\n")
    assert kinds(result) == {"duplicate_column": 1}
    assert result.problems[0].message == 'columns "DUE" and "Due" both match field due; keep one'


def test_empty_entity_tables(tmp_path):
    result, _ = demo(tmp_path, people="person_id,unit_id,role,general_points\n", tasks="task_id,person_id,due\n")
    assert kinds(result) == {"empty_table": 1}
    assert result.problems[0].render() == "people.csv: no rows; at least one person is needed"
    assert result.fatal


def test_an_empty_tasks_file_is_fine(tmp_path):
    result, _ = demo(tmp_path, tasks="")
    assert result.ok and result.counts["tasks"].read == 0


def test_unreadable_file(tmp_path):
    folder = write(tmp_path / "data", {"units.csv": UNITS, "people.csv": PEOPLE})
    (folder / "tasks.parquet").write_bytes(b"not a parquet file at all")
    result, _ = load(program(tmp_path), folder)
    assert kinds(result) == {"unreadable_file": 1}
    assert result.problems[0].render().startswith("tasks.parquet: cannot read the file: ")


def test_invalid_utf8_csv_is_unreadable(tmp_path):
    folder = write(tmp_path / "data", {"units.csv": UNITS, "people.csv": PEOPLE})
    (folder / "tasks.csv").write_bytes(b"task_id,person_id,due\n\xff\xfe,p1,2025-07-01\n")
    result, _ = load(program(tmp_path), folder)
    assert kinds(result) == {"unreadable_file": 1}


# ---------------------------------------------------------------- periods

@pytest.mark.parametrize("due, inside", [
    ("2025-06-30", False), ("2025-07-01", True), ("2025-08-15", True), ("2025-09-30", True), ("2025-10-01", False),
])
def test_period_boundaries(tmp_path, due, inside):
    tasks = f"task_id,person_id,due\nt1,p1,{due}\n"
    result, con = demo(tmp_path, tasks=tasks)
    assert result.ok
    c = result.counts["tasks"]
    assert (c.read, c.used, c.outside_period) == ((1, 1, 0) if inside else (1, 0, 1))
    assert len(rows(con, "data.tasks")) == c.used


def test_month_and_year_periods(tmp_path):
    tasks = "task_id,person_id,due\nt1,p1,2025-09-01\nt2,p1,2025-09-30\nt3,p1,2025-08-31\nt4,p1,2024-12-31\n"
    for period, used in (("2025-09", 2), ("2025", 3), ("2025-Q3", 3), ("2024-Q4", 1)):
        result, _ = demo(tmp_path, tasks=tasks, period=period)
        assert result.counts["tasks"].used == used, period


def test_problems_outside_the_period_are_not_reported(tmp_path):
    tasks = TASKS + "t3,p1,abc,2025-01-05,,x\n"
    result, _ = demo(tmp_path, tasks=tasks)
    assert result.ok and result.counts["tasks"].outside_period == 1


# ---------------------------------------------------------------- rejecting

BAD_TASKS = (TASKS + "t3,p1,abc,2025-07-03,,0\n"      # wrong type
             "t4,p9,1,2025-07-04,,0\n"                  # dangling
             "t5,p1,1,2025-01-04,,0\n")                 # outside the period


def test_counts_add_up_without_rejecting(tmp_path):
    result, con = demo(tmp_path, tasks=BAD_TASKS)
    c = result.counts["tasks"]
    assert (c.read, c.used, c.rejected, c.outside_period, c.invalid) == (5, 4, 0, 1, 2)
    assert balanced(result) and not result.ok


def test_reject_invalid_excludes_bad_rows_and_writes_them(tmp_path):
    result, con = demo(tmp_path, tasks=BAD_TASKS, reject=True)
    assert result.ok and balanced(result)
    c = result.counts["tasks"]
    assert (c.read, c.used, c.rejected, c.outside_period) == (5, 2, 2, 1)
    assert [r[1] for r in rows(con, "data.tasks")] == ["t1", "t2"]
    out = tmp_path / "rejects.csv"
    assert write_rejects(con, result, str(out)) == 2
    with open(out, encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines == [
        ["input", "file", "row", "column", "kind", "message"],
        ["tasks", "tasks.csv", "3", "coefficient", "wrong_type", '"abc" is not a number (like 12, 0.5 or 25%)'],
        ["tasks", "tasks.csv", "4", "person_id", "dangling_reference", '"p9" matches no person_id in people'],
    ]


def test_rejecting_cascades_through_references(tmp_path):
    units = UNITS + "u3,u2\nu4,u3\nu5,u1\n"
    people = PEOPLE + "p3,u4,staff,10,\np4,u5,staff,10,\n"
    tasks = TASKS + "t3,p3,1,2025-07-03,,0\nt4,p4,1,2025-07-04,,0\n"
    # u2's parent is unknown: u2 goes, then u3 and u4 below it, p2 and p3 in them, t2 and t3 of theirs.
    result, con = demo(tmp_path, units=units.replace("u2,u1", "u2,u0"), people=people, tasks=tasks, reject=True)
    assert result.ok and balanced(result)
    assert {k: c.rejected for k, c in result.counts.items()} == {"units": 3, "people": 2, "tasks": 2}
    assert [r[0] for r in con.execute("SELECT unit_id FROM data.units ORDER BY 1").fetchall()] == ["u1", "u5"]
    assert [r[0] for r in con.execute("SELECT task_id FROM data.tasks ORDER BY 1").fetchall()] == ["t1", "t4"]
    assert kinds(result) == {"dangling_reference": 1, "rejected_reference": 6}
    assert 'units.csv:3: column parent_id: "u2" refers to a row of units that was rejected' in [
        p.render() for p in result.problems]


def test_rejecting_every_person_is_fatal(tmp_path):
    result, _ = demo(tmp_path, people=PEOPLE.replace("head", "boss").replace("staff", "boss"), reject=True)
    assert kinds(result)["empty_table"] == 1 and result.fatal and not result.ok
    assert "people.csv: every row was rejected; at least one person is needed" in render_problems(result)


# ---------------------------------------------------------------- capping and rendering

def test_problem_lists_are_capped_but_counted(tmp_path):
    tasks = "task_id,person_id,due\n" + "".join(f"t{i},p1,2025-07-{i:02d}x\n" for i in range(1, 31))
    result, _ = demo(tmp_path, tasks=tasks, cap=3)
    assert kinds(result) == {"wrong_type": 30} and len(result.problems) == 3
    text = render_problems(result)
    assert text.splitlines()[0] == "wrong type (30):"
    assert "  ... and 27 more" in text and text.endswith("30 problems in 30 rows\n")


def test_long_values_are_cut_in_messages(tmp_path):
    result, _ = demo(tmp_path, people=PEOPLE.replace("head", "h" * 500))
    message = result.problems[0].message
    assert message.startswith('"' + "h" * 60 + '…"') and len(message) < 120
