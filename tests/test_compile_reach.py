"""Everything that checks clean runs: shapes the engine once refused at run time are either computed or refused
by `kpidsl check`, at the place they are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CASES
from kpidsl import testing
from kpidsl.pipeline import check_file
from kpidsl.resolve import Loader

CHECK = CASES / "check"

UNITS_PEOPLE_TASKS = """
input units key unit_id {
  unit_id: text
  parent_id: ref units?
  limit: number = 5
}

input people key person_id {
  person_id: text
  unit_id: ref units
  points: number between 0 and 100
}

input tasks key task_id {
  task_id: text
  person_id: ref people
  hours: number >= 0
}

units from units parent parent_id
people from people member of unit_id
"""

NESTED_TEST = """
test "nested" {
  period 2025-Q1
  given units [unit_id, parent_id] {
    [top, none]
  }
  given people [person_id, unit_id, points] {
    [p1, top, 5]
    [p2, top, 50]
  }
  given tasks [task_id, person_id, hours] {
    [t1, p1, 10]
    [t2, p2, 10]
  }
  expect unit top score = EXPECTED
}
"""

ROLLUP = """
input units key unit_id {
  unit_id: text
}

input people key person_id {
  person_id: text
  unit_id: ref units
}

input tasks key task_id period by due {
  task_id: text
  person_id: ref people
  due: date
  done: bool
}

units from units
people from people member of unit_id

measure share_done "Share of tasks done" for people = share(tasks where done) missing zero
measure unit_sc "Unit score" for people = unit.score missing zero

score s "Quarter" for people where count(tasks) > 0 {
  criterion q "Done" points 100 = share_done
}

score us "Unit" for units {
  criterion c "C" points 100 = 40
}

rollup year "Year" for people per year {
  score = mean(periods.share_done) * 100
  not evaluated when count(periods) < 2 or mean(periods.unit_sc) < 30
}

test "year" {
  period 2025
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id] {
    [p1, u1]
  }
  given tasks [task_id, person_id, due, done] {
    [t1, p1, 2025-01-10, true]
    [t2, p1, 2025-04-10, false]
    [t3, p1, 2025-05-10, true]
  }
  expect person p1 year = 75
}
"""


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "main.kpi"
    path.write_text('framework reach.t "Reach" version "1" period quarter\n' + body, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    _, diags = check_file(str(path), Loader())
    return [d.code for d in diags if d.is_error]


def _runs(path: Path) -> None:
    assert _errors(path) == []
    run = testing.run_paths([str(path)])
    assert run.outcomes and run.failed == 0, [d.message for o in run.outcomes for d in o.failures]


@pytest.mark.parametrize("case", sorted(p.name for p in CHECK.iterdir()
                                        if p.name.split("-")[0] in ("KPI024", "KPI025", "KPI034", "KPI063")
                                        or p.name == "KPI070-score-where-cycle"))
def test_shapes_the_engine_cannot_compute_do_not_check_clean(case):
    code = case.split("-")[0]
    assert _errors(CHECK / case / "main.kpi") == [code]


MEASURES = {
    # KPI034: an inner aggregate reading the outer row, or the unit, or the result being rated.
    "outer row": ('measure busy "Busy" for units = count(members where count(tasks where hours > points) > 0)',
                  "KPI034"),
    "entity": ('measure busy "Busy" for units = count(members where count(tasks where hours > limit) > 0)',
               "KPI034"),
    # Written as measures of each member, both run: p1 has a 10-hour task above its 5 points, p2 not.
    "as measures": ('measure long_tasks "Long" for people = count(tasks where hours > points)\n'
                    'measure busy "Busy" for units = count(members where long_tasks > 0)', "1"),
    # An inner aggregate that reads only its own rows: both members have a task over 5 hours.
    "own rows": ('measure busy "Busy" for units = count(members where count(tasks where hours > 5) > 0)', "2"),
}


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_nested_aggregates_check_clean_only_where_they_run(tmp_path, name):
    measure, outcome = MEASURES[name]
    body = (UNITS_PEOPLE_TASKS + measure + '\n\nscore u "U" for units {\n  criterion b "B" points 100 = busy\n}\n'
            + NESTED_TEST.replace("EXPECTED", outcome))
    path = _write(tmp_path, body)
    if outcome.startswith("KPI"):
        assert _errors(path) == [outcome]
    else:
        _runs(path)


def test_the_result_being_rated_inside_an_aggregate_is_refused(tmp_path):
    body = (UNITS_PEOPLE_TASKS + 'score s "S" for people {\n  criterion p "P" points 100 = points\n  rating r\n}\n\n'
            'rating r "R" {\n  good "G" when score >= 5 and count(tasks where hours < score) > 0\n'
            '  bad "B" otherwise\n}\n')
    assert _errors(_write(tmp_path, body)) == ["KPI034"]


def test_a_rollup_reads_each_periods_measure(tmp_path):
    # Q1: t1 done -> share 1; Q2: t2 not, t3 done -> 1/2; Q3, Q4: no tasks, not scored.
    # mean(1, 1/2) × 100 = 75. The unit scores 40 each quarter: mean 40 >= 30, so evaluated.
    _runs(_write(tmp_path, ROLLUP))


def test_a_quota_on_a_rating_not_read_along_the_tree_runs(tmp_path):
    body = """
input units key unit_id {
  unit_id: text
  parent_id: ref units?
  own: number between 0 and 100
}

units from units parent parent_id

score unit "Unit" for units {
  criterion own "Own" points 100 = own
  rating ur
}

rating ur "Unit rating" {
  good "Good" when score >= 50
  bad "Bad" otherwise
  quota good at most 50% of all per parent resolve by score
}

test "quota" {
  period 2025-Q1
  given units [unit_id, parent_id, own] {
    [top, none, 90]
    [a, top, 80]
    [b, top, 70]
  }
  # a and b share the parent top: floor(50% × 2) = 1 may be good; a has the higher score.
  # top, with no parent, is a group of one: floor(50% × 1) = 0 may be good, so it drops to bad.
  expect unit a rating = good
  expect unit b rating = bad
  expect unit top rating = bad
}
"""
    _runs(_write(tmp_path, body))
    with_cap = body.replace("  quota good", "  cap parent.rating\n  quota good")
    assert _errors(_write(tmp_path, with_cap)) == ["KPI063"]
