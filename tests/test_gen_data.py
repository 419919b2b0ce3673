"""The data generator: valid data for every input a framework declares, the shape asked for, the same bytes each time."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from kpidsl.data.sources import FolderSource
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period, quarter
from kpidsl.semantic.resolve import Loader, resolve

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import gen_data  # noqa: E402 - after the path above

CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"


def spec(out: Path, **kw) -> gen_data.Spec:
    args = dict(people=95, tasks_per_person=4, period=quarter(2025, 3), format="csv", out=out, seed=5)
    args.update(kw)
    return gen_data.Spec(**args)


def load(folder: Path, framework: Path = CENTRAL, period: str = "2025-Q3"):
    program, _ = resolve(str(framework), Loader())
    con = duckdb.connect()
    return con, load_and_validate(con, program, FolderSource(str(folder)), parse_period(period))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_valid_with_the_counts_asked_for(tmp_path, fmt):
    written = gen_data.generate(spec(tmp_path, format=fmt))
    assert sorted(written) == ["people", "tasks", "unit_reports", "units"]
    assert all(p.suffix == f".{fmt}" for p in written.values())
    con, result = load(tmp_path)
    assert result.ok and result.total_problems == 0, [p.render() for p in result.problems]
    used = {name: c.used for name, c in result.counts.items()}
    # 95 people at about 30 a unit: 3 units; 4 tasks each, every one due in the quarter;
    # one report per unit
    assert used == {"units": 3, "people": 95, "tasks": 380, "unit_reports": 3}
    assert result.counts["tasks"].outside_period == 0


def test_units_form_a_tree_and_every_unit_has_one_head(tmp_path):
    gen_data.generate(spec(tmp_path, people=400, units=20))
    con, result = load(tmp_path)
    assert result.ok
    parents = dict(con.execute("SELECT unit_id, parent_id FROM data.units").fetchall())
    roots = [u for u, p in parents.items() if p is None]
    assert roots == ["u00"]
    for unit in parents:  # every unit reaches the root without a cycle
        seen = set()
        while unit is not None:
            assert unit not in seen
            seen.add(unit)
            unit = parents[unit]
    children = con.execute("SELECT count(*) FROM data.units GROUP BY parent_id").fetchall()
    assert max(c for (c,) in children) <= gen_data.BRANCHING
    heads = con.execute("SELECT unit_id, count(*) FILTER (WHERE role = 'head'), count(*) FROM data.people "
                        "GROUP BY 1 ORDER BY 1").fetchall()
    assert len(heads) == 20 and all(h == 1 for _, h, _ in heads)
    assert sum(n for _, _, n in heads) == 400
    # leader criteria are given for deputies and heads only
    assert con.execute("SELECT count(*) FROM data.people WHERE (role = 'staff') <> (organising IS NULL)"
                       ).fetchall() == [(0,)]


def test_values_that_belong_together(tmp_path):
    gen_data.generate(spec(tmp_path, people=300, tasks_per_person=10))
    con, result = load(tmp_path)
    assert result.ok
    late = con.execute("SELECT count(*) FILTER (WHERE finished > due AND delays = 0), "
                       "count(*) FILTER (WHERE NOT finished > due AND delays > 0), count(*) FILTER (WHERE finished "
                       "IS NULL), count(*) FROM data.tasks").fetchall()[0]
    assert late[0] == 0 and late[1] == 0
    assert 0 < late[2] < late[3] * 0.2  # some tasks are not finished, most are
    assert con.execute("SELECT count(*) FROM data.unit_reports WHERE plan_done > plan_items").fetchall() == [(0,)]
    kinds = dict(con.execute("SELECT kind, count(*) FROM data.tasks GROUP BY 1").fetchall())
    assert set(kinds) == {"planned", "unexpected"} and kinds["planned"] > kinds["unexpected"]


def test_same_arguments_same_bytes_another_seed_other_data(tmp_path):
    first = gen_data.generate(spec(tmp_path / "a"))
    again = gen_data.generate(spec(tmp_path / "b"))
    other = gen_data.generate(spec(tmp_path / "c", seed=6))
    for name in first:
        assert first[name].read_bytes() == again[name].read_bytes()
    assert first["tasks"].read_bytes() != other["tasks"].read_bytes()


def test_every_input_of_a_unit_frame(tmp_path):
    framework = ROOT / "frameworks" / "units" / "administration.kpi"
    written = gen_data.generate(spec(tmp_path, framework=framework, period=quarter(2025, 4), rows_per_unit=7))
    assert "documents" in written
    con, result = load(tmp_path, framework, "2025-Q4")
    assert result.ok, [p.render() for p in result.problems]
    assert result.counts["documents"].used == 3 * 7


def test_any_declared_field_gets_a_valid_value(tmp_path):
    framework = tmp_path / "odd.kpi"
    framework.write_text('''\
framework odd "Odd" version "1" effective 2025-01-01 period month

input units "Units" key unit_id {
  unit_id: text
}

input people "People" key person_id {
  person_id: text
  unit_id: ref units
}

input trips "Trips" key trip_id period by day {
  trip_id: text
  person_id: ref people
  day: date
  km: number > 2.5 <= 8
  legs: integer between 1 and 4
  cost: number < 0
  late: integer >= 0 = 0
  note: text?
  back: date?
  mode: car | train | plane?
}

input claims "Claims" key claim_id {
  claim_id: text
  trip_id: ref trips
  approved: bool
}

units from units
people from people member of unit_id
''', encoding="utf-8")
    out = tmp_path / "data"
    gen_data.generate(spec(out, framework=framework, people=12, period=parse_period("2025-02")))
    con, result = load(out, framework, "2025-02")
    assert result.ok, [p.render() for p in result.problems]
    assert result.counts["trips"].used == 48
    km = con.execute("SELECT min(km), max(km), min(legs), max(legs), max(cost) FROM data.trips").fetchall()[0]
    assert km[0] > 2.5 and km[1] <= 8 and km[2] >= 1 and km[3] <= 4 and km[4] < 0


def test_command_line(tmp_path, capsys):
    assert gen_data.main(["--people", "31", "--tasks-per-person", "2", "--period", "2025-Q3", "--format", "csv",
                          "--out", str(tmp_path), "--seed", "9"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv", "tasks.csv", "unit_reports.csv",
                                                          "units.csv"]
    assert (tmp_path / "tasks.csv").read_text().count("\n") == 1 + 62
    for bad in (["--people", "0"], ["--people", "5", "--period", "2025-Q5"], ["--people", "5", "--units", "9"]):
        with pytest.raises(SystemExit) as info:
            gen_data.main([*bad, "--out", str(tmp_path)])
        assert info.value.code == 2


@pytest.mark.parametrize("folder, framework, period", [
    ("quarter-2025-Q3", CENTRAL, "2025-Q3"),
    ("quarter-2025-Q4", ROOT / "frameworks" / "units" / "administration.kpi", "2025-Q4"),
])
def test_the_bundled_example_quarters_are_valid(folder, framework, period):
    con, result = load(ROOT / "examples" / folder, framework, period)
    assert result.ok and result.total_problems == 0, [p.render() for p in result.problems]
    used = {name: c.used for name, c in result.counts.items()}
    assert (used["units"], used["people"], used["tasks"]) == (5, 32, 128)
    assert all(c.outside_period == 0 for c in result.counts.values())
