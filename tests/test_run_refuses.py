"""`kpidsl run` refuses what it cannot score right: a period before `effective`, an input with no row in the period.

Before these checks, both cases ran and rated everyone as if nothing had been done (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli
from results_fixture import FRAMEWORK, write_inputs

ROOT = Path(__file__).parent.parent


@pytest.fixture
def fx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path)
    return tmp_path


def run(*args: str, period: str = "2025-Q3", framework: str = "fx.kpi", data: str = "data"):
    return CliRunner().invoke(cli.main, ["run", framework, "--data", data, "--period", period, "--out", "out", *args])


def effective(folder: Path, day: str) -> None:
    (folder / "fx.kpi").write_text(FRAMEWORK.replace("effective 2025-07-01", f"effective {day}"), encoding="utf-8")


# ---------------------------------------------------------------- effective

def test_a_period_before_the_effective_date_is_refused(fx):
    effective(fx, "2025-10-01")
    result = run()
    assert result.exit_code == 2, result.output
    assert result.stderr == ("kpidsl: --period: framework fx 1.0 applies from 2025-10-01; 2025-Q3 ends before it: "
                             "score it with the version in effect then, or pass --what-if\n")
    assert not (fx / "out").exists()


def test_a_period_that_contains_the_effective_date_after_its_first_day_is_refused(fx):
    effective(fx, "2025-08-15")
    result = run()
    assert result.exit_code == 2, result.output
    assert "framework fx 1.0 applies from 2025-08-15; 2025-Q3 starts on 2025-07-01, before it" in result.stderr
    assert not (fx / "out").exists()


def test_a_period_from_the_effective_date_on_runs(fx):
    effective(fx, "2025-07-01")
    assert run().exit_code == 0
    # Only period dates count, never today's: a period far ahead is scored like any other.
    (fx / "data" / "tasks.csv").write_text("task_id,person_id,due,done\nt1,p1,2099-01-10,true\n", encoding="utf-8")
    result = run(period="2099-Q1")
    assert result.exit_code == 0, result.output


def test_what_if_scores_anyway_and_says_so(fx):
    effective(fx, "2025-10-01")
    result = run("--what-if")
    assert result.exit_code == 0, result.output
    manifest = json.loads((fx / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["what_if"] is True
    report = (fx / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="what-if"' in report and "What-if run, not an official result." in report
    assert run().exit_code == 2  # without the flag, the same period is still refused


def test_an_ordinary_run_is_not_a_what_if(fx):
    assert run().exit_code == 0
    assert json.loads((fx / "out" / "manifest.json").read_text(encoding="utf-8"))["what_if"] is False
    assert 'id="what-if"' not in (fx / "out" / "report.html").read_text(encoding="utf-8")


def test_a_year_over_quarters_before_the_effective_date_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    central = str(ROOT / "frameworks" / "central" / "central.kpi")
    result = run(period="2025", framework=central, data=str(ROOT / "examples" / "quarter-2025-Q3"))
    assert result.exit_code == 2, result.output
    assert ("framework central 2025.07 applies from 2025-07-01; 2025 starts on 2025-01-01, before it "
            "(2025-Q1 and 2025-Q2 end before it)") in result.stderr


# ---------------------------------------------------------------- inputs with no row in the period

def test_an_input_with_no_row_in_the_period_is_refused(fx):
    # Every task of the fixture falls in 2025-Q3 or Q4; 2026-Q1 holds none.
    result = run(period="2026-Q1")
    assert result.exit_code == 2, result.output
    assert ("tasks.csv: no rows in 2026-Q1 (2026-01-01 to 2026-03-31) by due: its rows are dated from 2025-07-10 "
            "to 2025-10-10; check --data and --period, or pass --allow-empty tasks to score the period without "
            "them") in result.stderr
    assert not (fx / "out").exists()


def test_an_input_with_no_row_at_all_is_refused(fx):
    (fx / "data" / "tasks.csv").write_text("task_id,person_id,due,done\n", encoding="utf-8")
    result = run()
    assert result.exit_code == 2, result.output
    assert "tasks.csv: no rows in 2025-Q3 (2025-07-01 to 2025-09-30) by due: it has no rows" in result.stderr


def test_allow_empty_scores_the_period_and_records_it(fx):
    result = run("--allow-empty", "tasks", period="2026-Q1")
    assert result.exit_code == 0, result.output
    manifest = json.loads((fx / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data"]["allowed_empty"] == ["tasks"]
    assert {"input": "tasks", "file": "tasks.csv", "read": 5, "in_period": 0, "outside_period": 5, "used": 0,
            "rejected": 0} in manifest["data"]["rows"]
    report = (fx / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="allowed-empty"' in report and "<code>tasks</code> (0 rows in the period)" in report


def test_allow_empty_names_an_input_read_by_period(fx):
    result = run("--allow-empty", "people")
    assert result.exit_code == 2
    assert result.stderr == ("kpidsl: --allow-empty: people is not an input read by period; those are: tasks\n")


# ---------------------------------------------------------------- who the score blocks take

OVERLAP = """framework demo "Overlapping scores" period quarter

input units key unit_id {
  unit_id: text
}

input people key person_id {
  person_id: text
  unit_id: ref units
  role: staff | head
  points: number between 0 and 30
}

units from units
people from people member of unit_id

scale raters = linear 0 -> 0, 30 -> 100 clamp

score staff for people where role = staff {
  criterion general points 100 = points scored raters
}

score senior for people where points > 20 {
  criterion general points 100 = points scored raters
}
"""


def test_the_manifest_counts_who_matched_several_scores_and_who_none(tmp_path, monkeypatch):
    # s1 (staff, 25) meets both `where`s and is scored by `staff`; h1 (head, 10) meets neither;
    # h2 (head, 25) meets only `senior`.
    monkeypatch.chdir(tmp_path)
    Path("main.kpi").write_text(OVERLAP, encoding="utf-8")
    Path("data").mkdir()
    Path("data/units.csv").write_text("unit_id\nu1\n", encoding="utf-8")
    Path("data/people.csv").write_text("person_id,unit_id,role,points\ns1,u1,staff,25\nh1,u1,head,10\n"
                                       "h2,u1,head,25\n", encoding="utf-8")
    result = run(framework="main.kpi")
    assert result.exit_code == 0, result.output
    manifest = json.loads(Path("out/manifest.json").read_text(encoding="utf-8"))
    assert manifest["population"] == [{"entity": "people", "matched_none": 1, "matched_several": 1},
                                      {"entity": "units", "matched_none": 1, "matched_several": 0}]  # no unit score
    assert {"entity": "people", "status": "not_scored", "count": 1} in manifest["results"]
