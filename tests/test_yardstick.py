"""The yardstick (bench/yardstick.sql) agrees with `kpidsl run` person by person and unit by unit, and refuses bad data.

The data is bench/gen_data.py's, reshaped so that every rule of the central frame
takes part: the quota with ties, overrides, the leaders' cap and `missing fail`,
units without staff, members or reports, renormalised and zero criteria, budget
bands at their edges, defaults, blanks around enumeration values, rows outside
the period. Each corruption must be refused by both with the same kind of problem.
"""

from __future__ import annotations

import shutil
import sys
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pytest

from kpidsl.data.sources import FolderSource
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period, quarter
from kpidsl.pipeline import RUN_OK, run_framework
from kpidsl.semantic.resolve import Loader, resolve

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import gen_data  # noqa: E402 - after the path above
import yardstick  # noqa: E402

CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"
PERIOD = "2025-Q3"
INPUTS = ("tasks", "people", "units", "unit_reports")

# 12 units of 30 people (u00..u11, p000..p359): in each, the first is the head, the next two deputies.
RESHAPE = {
    "people": """
        SELECT person_id, name,
            CASE WHEN person_id BETWEEN 'p210' AND 'p239' AND role = 'staff' THEN 'u08' ELSE unit_id END AS unit_id,
            CASE WHEN person_id = 'p200' THEN ' staff' WHEN person_id = 'p201' THEN 'staff ' ELSE role END AS role,
            CASE WHEN person_id = 'p152' THEN 15 ELSE coalesce((SELECT points FROM perfect WHERE id = person_id),
                 general_points) END::DECIMAL(18,2) AS general_points,
            CASE WHEN person_id IN ('p037', 'p092') THEN true WHEN person_id = 'p005' THEN NULL
                 ELSE disciplined END AS disciplined,
            CASE WHEN person_id = 'p061' THEN NULL WHEN person_id = 'p210' THEN 'partial '
                 WHEN person_id IN ('p001', 'p060', 'p150', 'p151', 'p152') THEN 'full' ELSE organising END
                AS organising,
            CASE WHEN person_id = 'p091' THEN NULL
                 WHEN person_id IN ('p001', 'p030', 'p060', 'p150', 'p151', 'p152') THEN 'full'
                 ELSE cohesion END AS cohesion
        FROM src""",
    "tasks": """
        SELECT task_id, person_id,
            CASE WHEN task_id IN ('t0500', 't0501') THEN ' planned' ELSE kind END AS kind,
            CASE WHEN person_id BETWEEN 'p100' AND 'p109' THEN NULL ELSE coefficient END AS coefficient,
            due,
            CASE WHEN person_id IN (SELECT id FROM perfect) THEN due ELSE finished END AS finished,
            CASE WHEN person_id IN (SELECT id FROM perfect) THEN 0 WHEN person_id BETWEEN 'p110' AND 'p119' THEN NULL
                 WHEN person_id IN ('p120', 'p121') THEN 5 ELSE errors END AS errors,
            CASE WHEN person_id IN (SELECT id FROM perfect) THEN 0 WHEN person_id BETWEEN 'p110' AND 'p119' THEN NULL
                 ELSE delays END AS delays,
            CASE WHEN person_id BETWEEN 'p110' AND 'p119' THEN NULL WHEN person_id = 'p120' THEN false
                 WHEN person_id = 'p121' THEN true ELSE waived END AS waived
        FROM src
        WHERE person_id NOT BETWEEN 'p130' AND 'p134' AND person_id NOT IN ('p152', 'p180')
        UNION ALL
        -- Outside the period, nothing is checked: a bad kind, a zero coefficient, a repeated id.
        SELECT 't0001', 'p001', 'bogus', 0, DATE '2025-10-02', NULL, -1, 0, false
        UNION ALL SELECT 'x-late', 'nobody', 'planned', 1, DATE '2025-06-30', NULL, 0, 0, false""",
    "units": """
        SELECT * FROM src
        UNION ALL SELECT 'u99', 'Phòng trống', 'u00'""",
    "unit_reports": """
        SELECT report_id, unit_id,
            CASE WHEN unit_id = 'u10' THEN DATE '2025-10-01' ELSE reported END AS reported,
            CASE WHEN unit_id = 'u11' THEN 0 ELSE plan_items END AS plan_items,
            CASE WHEN unit_id = 'u05' THEN plan_items + 3 WHEN unit_id = 'u11' THEN 0 ELSE plan_done END AS plan_done,
            CASE WHEN unit_id = 'u01' THEN 0 WHEN unit_id = 'u02' THEN NULL
                 WHEN unit_id IN ('u07', 'u09') THEN 10000 ELSE budget_plan END::DECIMAL(18,2) AS budget_plan,
            CASE WHEN unit_id = 'u01' THEN 0 WHEN unit_id = 'u02' THEN NULL
                 WHEN unit_id = 'u06' THEN budget_plan * 0.95 WHEN unit_id = 'u08' THEN budget_plan * 0.80
                 WHEN unit_id = 'u07' THEN 9499.99 WHEN unit_id = 'u09' THEN 5999.99
                 ELSE budget_spent END::DECIMAL(18,2) AS budget_spent,
            reform_index
        FROM src WHERE unit_id <> 'u04'
        UNION ALL SELECT 'r-extra', 'u03', DATE '2025-08-15', 7, 2, 1000, 990, 55.55""",
}
# People made perfect (every task finished on its due date, no error or delay) and their general
# points: twelve staff in each of u01..u04 with 30 or 28.5, so the quota holds most of them back (ties at
# 100 go by id); every staff member of u05, so no one there is good and no one may stay excellent; the
# heads of u01, u02 (excellent by score, capped at the unit's rating) and u05. Scores on a threshold:
# p003 0 + 70 = 70.00, p004 20 + 70 = 90.00; leaders p151 20 + 70 = 90.00 and p001, whose unit has
# staff not completed (d = 50%), 5.83 + 70 x 5.5/6 = 69.9967, published 70.00 and so good; p152 has no
# task: 15 + 70 x 3/6 = 50.00.
PERFECT = """
    CREATE TABLE perfect AS
    SELECT person_id AS id,
        CASE number WHEN 1 THEN 5.83 WHEN 3 THEN 0 WHEN 4 THEN 20 WHEN 151 THEN 20
             ELSE CASE WHEN number % 2 = 0 OR number BETWEEN 150 AND 179 THEN 30 ELSE 28.5 END END AS points
    FROM (SELECT person_id, role, CAST(substr(person_id, 2) AS INTEGER) AS number FROM people_src)
    WHERE (role = 'staff' AND number // 30 BETWEEN 1 AND 4 AND number % 30 BETWEEN 3 AND 14)
       OR (role = 'staff' AND number // 30 = 5) OR number IN (1, 3, 4, 30, 60, 150, 151)"""


def reshape(folder: Path) -> None:
    """Rewrite the generated files in place, keeping each column's type."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE people_src AS SELECT * FROM read_parquet($p)",
                    {"p": str(folder / "people.parquet")})
        con.execute(PERFECT)
        for name in INPUTS:
            path = folder / f"{name}.parquet"
            types = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($p))",
                                {"p": str(path)}).fetchall()
            con.execute("CREATE OR REPLACE TABLE src AS SELECT * FROM read_parquet($p)", {"p": str(path)})
            cast = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in types)
            con.sql(f"SELECT {cast} FROM ({RESHAPE[name]})").write_parquet(str(path.with_suffix(".new")))
            path.with_suffix(".new").replace(path)
    finally:
        con.close()


@pytest.fixture(scope="module")
def diverse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("yardstick") / "data"
    gen_data.generate(gen_data.Spec(people=360, tasks_per_person=8, period=quarter(2025, 3), format="parquet",
                                    out=folder, seed=3, units=12))
    reshape(folder)
    return folder


def results(folder: Path, table: str) -> dict[str, tuple]:
    columns = "unit" if table == "people" else "parent"
    rows = duckdb.sql(f"SELECT id, {columns}, score_name, status, score, rating FROM "
                      f"read_parquet('{folder / (table + '.parquet')}')").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_agrees_with_kpidsl_person_by_person_and_unit_by_unit(diverse, tmp_path):
    report = run_framework(str(CENTRAL), str(diverse), PERIOD, str(tmp_path / "kpidsl"), formats=("parquet",))
    assert report.outcome == RUN_OK, report.problems or report.message or report.diagnostics
    outcome = yardstick.run(diverse, PERIOD, tmp_path / "yardstick")
    assert outcome.problems == []
    for table in ("people", "units"):
        kpidsl_rows, ours = results(tmp_path / "kpidsl", table), results(tmp_path / "yardstick", table)
        assert len(ours) == (360 if table == "people" else 13)
        differing = {key: (kpidsl_rows.get(key), ours.get(key)) for key in kpidsl_rows.keys() | ours.keys()
                     if kpidsl_rows.get(key) != ours.get(key)}
        assert differing == {}, f"{table}: (kpidsl, yardstick) differ"


def test_the_data_exercises_the_rules(diverse, tmp_path):
    """The reshaped data reaches each rule: without this the agreement above would prove less."""
    assert yardstick.run(diverse, PERIOD, tmp_path).problems == []
    people, units = results(tmp_path, "people"), results(tmp_path, "units")
    levels = {r[4] for r in people.values()}
    assert levels == {"excellent", "good", "completed", "not_completed", None}
    assert {r[4] for r in units.values()} == {"excellent", "good", "completed", "not_completed"}
    # missing fail: a leader without organising, one without cohesion
    assert people["p061"][2:] == ("error", None, None) and people["p091"][2:] == ("error", None, None)
    # 28.5 + 70 = 98.5, excellent by score, not completed by the disciplinary override
    assert people["p037"][3:] == (Decimal("98.50"), "not_completed")
    # the quota: in u01 twelve perfect staff (one disciplined), 100 (even ids) or 98.5; two may stay
    # excellent, the ties at 100 going to the smaller ids; in u05 nobody else is good, so nobody stays
    assert sorted(k for k, r in people.items() if r[0] == "u01" and r[4] == "excellent") == ["p034", "p036"]
    assert people["p038"][3:] == (Decimal("100.00"), "good")
    u05 = [r for r in people.values() if r[0] == "u05" and r[1] == "staff"]
    assert len(u05) == 27 and all(r[3] >= 90 and r[4] == "good" for r in u05)
    # the cap: u02's head is excellent by score, the unit only good
    assert people["p060"][3] >= 90 and people["p060"][4] == units["u02"][4] == "good"
    # a unit of leaders only (staff_results drops out), a unit with nobody and no report (0)
    assert not any(r[0] == "u07" and r[1] == "staff" for r in people.values())
    assert units["u99"][3:] == (Decimal("0.00"), "not_completed")
    # scores on the thresholds, which the ratings read as published
    assert [people[k][3:] for k in ("p003", "p004", "p151", "p001", "p152")] == [
        (Decimal("70.00"), "good"), (Decimal("90.00"), "excellent"), (Decimal("90.00"), "excellent"),
        (Decimal("70.00"), "good"), (Decimal("50.00"), "completed")]
    # budget rates at the bands' edges: 95% (100), 94.9999% (75), 80% (75), 59.9999% (0)
    rates = {u: Fraction(spent) / Fraction(plan) for u, spent, plan in duckdb.sql(
        f"SELECT unit_id, budget_spent, budget_plan FROM read_parquet('{diverse / 'unit_reports.parquet'}') "
        "WHERE budget_plan > 0").fetchall()}
    assert [rates[u] for u in ("u06", "u07", "u08", "u09")] == [Fraction(x) for x in ("0.95", "0.949999", "0.8",
                                                                                      "0.599999")]


# ---------------------------------------------------------------- refusing bad data

CORRUPT = {
    "duplicate task id": ("tasks", "UPDATE src SET task_id = 't0002' WHERE task_id = 't0003'",
                          {("tasks", "duplicate_key")}),
    "dangling person": ("tasks", "UPDATE src SET person_id = 'p999' WHERE task_id = 't0003'",
                        {("tasks", "dangling_reference")}),
    "empty person": ("tasks", "UPDATE src SET person_id = '  ' WHERE task_id = 't0003'",
                     {("tasks", "empty_value")}),
    "empty task id": ("tasks", "UPDATE src SET task_id = NULL WHERE task_id = 't0003'",
                      {("tasks", "empty_value")}),
    "unknown kind": ("tasks", "UPDATE src SET kind = 'Planned' WHERE task_id = 't0003'",
                     {("tasks", "unknown_value")}),
    "zero coefficient": ("tasks", "UPDATE src SET coefficient = 0 WHERE task_id = 't0003'",
                         {("tasks", "out_of_range")}),
    "negative delays": ("tasks", "UPDATE src SET delays = -1 WHERE task_id = 't0003'",
                        {("tasks", "out_of_range")}),
    "no due date": ("tasks", "UPDATE src SET due = NULL WHERE task_id = 't0003'",
                    {("tasks", "no_period")}),
    "duplicate person": ("people", "UPDATE src SET person_id = 'p004' WHERE person_id = 'p005'",
                         {("people", "duplicate_key"), ("tasks", "dangling_reference")}),
    "unknown role": ("people", "UPDATE src SET role = 'boss' WHERE person_id = 'p005'",
                     {("people", "unknown_value")}),
    "points above 30": ("people", "UPDATE src SET general_points = 30.01 WHERE person_id = 'p005'",
                        {("people", "out_of_range")}),
    "no points": ("people", "UPDATE src SET general_points = NULL WHERE person_id = 'p005'",
                  {("people", "empty_value")}),
    "unknown organising": ("people", "UPDATE src SET organising = 'some' WHERE person_id = 'p000'",
                           {("people", "unknown_value")}),
    "dangling unit": ("people", "UPDATE src SET unit_id = 'u77' WHERE person_id = 'p005'",
                      {("people", "dangling_reference")}),
    "duplicate unit": ("units", "UPDATE src SET unit_id = 'u01' WHERE unit_id = 'u11'",
                       {("units", "duplicate_key"), ("people", "dangling_reference"),
                        ("unit_reports", "dangling_reference")}),
    "dangling parent": ("units", "UPDATE src SET parent_id = 'u77' WHERE unit_id = 'u03'",
                        {("units", "dangling_reference")}),
    "unit without name": ("units", "UPDATE src SET name = ' ' WHERE unit_id = 'u03'",
                          {("units", "empty_value")}),
    "reform above 100": ("unit_reports", "UPDATE src SET reform_index = 100.01 WHERE unit_id = 'u03'",
                         {("unit_reports", "out_of_range")}),
    "report of no unit": ("unit_reports", "UPDATE src SET unit_id = 'u77' WHERE unit_id = 'u03'",
                          {("unit_reports", "dangling_reference")}),
    "no plan items": ("unit_reports", "UPDATE src SET plan_items = NULL WHERE unit_id = 'u03'",
                      {("unit_reports", "empty_value")}),
    "negative budget": ("unit_reports", "UPDATE src SET budget_spent = -1 WHERE unit_id = 'u03'",
                        {("unit_reports", "out_of_range")}),
    "duplicate report": ("unit_reports", "UPDATE src SET report_id = 'r01' WHERE unit_id = 'u03'",
                         {("unit_reports", "duplicate_key")}),
    "no people": ("people", "DELETE FROM src", {("people", "empty_table"), ("tasks", "dangling_reference")}),
    "no task in the period": ("tasks", "UPDATE src SET due = due + INTERVAL 92 DAY", {("tasks", "empty_period")}),
    "no report in the period": ("unit_reports", "UPDATE src SET reported = DATE '2025-06-30'",
                                {("unit_reports", "empty_period")}),
    "errors as text": ("tasks", "ALTER TABLE src ALTER errors TYPE VARCHAR; "
                                "UPDATE src SET errors = 'one' WHERE task_id = 't0003'",
                       {("tasks", "wrong_type")}),
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("yardstick") / "plain"
    gen_data.generate(gen_data.Spec(people=120, tasks_per_person=10, period=quarter(2025, 3), format="parquet",
                                    out=folder, seed=4, units=12))
    return folder


def kpidsl_problems(folder: Path) -> set[tuple[str, str]]:
    program, _ = resolve(str(CENTRAL), Loader())
    con = duckdb.connect()
    try:
        load = load_and_validate(con, program, FolderSource(str(folder)), parse_period(PERIOD), period_rows=())
    finally:
        con.close()
    return {(p.input, p.kind) for p in load.problems}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_bad_data_is_refused_like_a_run_refuses_it(plain, tmp_path, case):
    input_name, change, expected = CORRUPT[case]
    folder = tmp_path / "data"
    shutil.copytree(plain, folder)
    path = folder / f"{input_name}.parquet"
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE src AS SELECT * FROM read_parquet($p)", {"p": str(path)})
        for statement in change.split("; "):
            con.execute(statement)
        con.sql("SELECT * FROM src").write_parquet(str(path))
    finally:
        con.close()
    assert kpidsl_problems(folder) == expected
    outcome = yardstick.run(folder, PERIOD, tmp_path / "out")
    assert {(i, k) for i, k, _ in outcome.problems} == expected
    assert not (tmp_path / "out").exists()


def test_the_yardstick_command_exits_2_on_bad_data_and_writes_nothing(plain, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(plain, folder)
    duckdb.sql(f"SELECT * REPLACE (CASE WHEN task_id = 't0003' THEN 't0002' ELSE task_id END AS task_id) "
               f"FROM read_parquet('{plain / 'tasks.parquet'}')").write_parquet(str(folder / "tasks.parquet"))
    assert yardstick.main(["--data", str(folder), "--period", PERIOD, "--out", str(tmp_path / "out")]) == 2
    assert "tasks: duplicate_key (2)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert yardstick.main(["--data", str(plain), "--period", PERIOD, "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["people.parquet", "units.parquet"]


def test_periods_and_column_types():
    assert yardstick.period_bounds("2025-Q3") == (date(2025, 7, 1), date(2025, 9, 30))
    assert yardstick.period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert yardstick.period_bounds("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))
    assert yardstick.period_bounds("2025") == (date(2025, 1, 1), date(2025, 12, 31))
    for bad in ("2025-Q5", "2025-13", "25", "2025-7"):
        with pytest.raises(ValueError):
            yardstick.period_bounds(bad)
    assert yardstick.column_fits("cents", "DECIMAL(18,2)") and yardstick.column_fits("cents", "DECIMAL(9,0)")
    assert not yardstick.column_fits("cents", "DECIMAL(38,2)")    # cents might not fit 64 bits
    assert not yardstick.column_fits("cents", "DECIMAL(18,3)")    # not whole cents
    assert not yardstick.column_fits("cents", "DOUBLE")
    assert yardstick.column_fits("integer", "INTEGER") and not yardstick.column_fits("integer", "HUGEINT")
