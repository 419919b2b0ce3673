"""Properties of validation: the result does not depend on the order of rows in the files."""

from __future__ import annotations

import csv
import io
from collections import Counter

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpidsl.data.sources import open_source
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period
from test_data_helpers import UNITS, program

IDS = st.sampled_from(["p1", "p2", "p3", "p9", "", " "])
POINTS = st.sampled_from(["0", "12.5", "30", "31", "-1", "abc", "", "25%"])
ROLES = st.sampled_from(["staff", "head", "boss", ""])
DATES = st.sampled_from(["2025-07-01", "2025-09-30", "2025-06-30", "2025-10-01", "2025-02-30", "", "x"])
NUMBERS = st.sampled_from(["1", "0", "-2", "0.5", "", "1e3"])

PEOPLE_ROWS = st.lists(st.tuples(IDS, st.sampled_from(["u1", "u2", "u7"]), ROLES, POINTS), max_size=8)
TASK_ROWS = st.lists(st.tuples(st.sampled_from(["t1", "t2", "t3", "t4", ""]), IDS, NUMBERS, DATES, NUMBERS),
                     max_size=10)


def to_csv(header, data):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(data)
    return buffer.getvalue()


def outcome(tmp_path, prog, people, tasks, reject, tag):
    folder = tmp_path / tag
    folder.mkdir(exist_ok=True)
    (folder / "units.csv").write_text(UNITS, encoding="utf-8")
    (folder / "people.csv").write_text(to_csv(["person_id", "unit_id", "role", "general_points"], people))
    (folder / "tasks.csv").write_text(to_csv(["task_id", "person_id", "coefficient", "due", "errors"], tasks))
    con = duckdb.connect()
    load = load_and_validate(con, prog, open_source(str(folder)), parse_period("2025-Q3"), reject_invalid=reject,
                             cap=10_000)
    found = Counter((p.input, p.column, p.kind, p.value, p.message) for p in load.problems)
    counts = {k: (c.read, c.used, c.rejected, c.outside_period, c.invalid) for k, c in load.counts.items()}
    kept = {name: Counter(con.execute(f"SELECT * EXCLUDE (_row) FROM {table}").fetchall())
            for name, table in load.tables.items()}
    for c in load.counts.values():
        assert c.read == c.used + c.rejected + c.outside_period
    return found, counts, kept, dict(load.problem_counts)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=PEOPLE_ROWS, tasks=TASK_ROWS, reject=st.booleans(), data=st.data())
def test_validation_does_not_depend_on_row_order(tmp_path, people, tasks, reject, data):
    prog = program(tmp_path)
    shuffled_people = data.draw(st.permutations(people))
    shuffled_tasks = data.draw(st.permutations(tasks))
    first = outcome(tmp_path, prog, people, tasks, reject, "a")
    second = outcome(tmp_path, prog, shuffled_people, shuffled_tasks, reject, "b")
    assert first == second
