"""Everything that checks clean runs: shapes the engine once refused at run time are either computed or refused
by `kpidsl check`, at the place they are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CASES
from kpidsl import testing
from kpidsl.pipeline import check_file
from kpidsl.semantic.resolve import Loader

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


REFUSED = ("KPI070-score-where-cycle", "KPI030-missing-zero-on-date", "KPI030-count-of-collections",
           "KPI032-round-too-many-places")


@pytest.mark.parametrize("case", sorted(p.name for p in CHECK.iterdir()
                                        if p.name.split("-")[0] in ("KPI024", "KPI025", "KPI026", "KPI027",
                                                                    "KPI034", "KPI063")
                                        or p.name in REFUSED))
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


# ---------------------------------------------------------------- the fixed versions in docs/diagnostics.md run
# Each golden case of a refused shape, fixed as docs/diagnostics.md says, with data and hand-worked results.
FIXES = {
    "KPI024-input-two-refs": ([("  subject: ref people", "  subject: text")], """
test "fixed" {
  period 2025-Q1
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id] {
    [p1, u1]
    [p2, u1]
  }
  given reviews [review_id, author, subject, stars] {
    [r1, p1, p2, 4]
    [r2, p1, p1, 3]
    [r3, p2, p1, 5]
  }
  # Rows belong to their author: p1 wrote r1 and r2, p2 wrote r3.
  expect person p1 given = 2
  expect person p2 given = 1
}
"""),
    "KPI025-rollup-measure-reads-score": ([("or unit_sc < 3", "or mean(periods.unit_sc) < 3")], """
test "fixed" {
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
  # Q1 share 1, Q2 share 1/2: the year is 3/4 x 100 = 75; the unit scores 50 each quarter (not below 3).
  # Quarter ratings: Q1 100 top, Q2 50 low; with a low quarter the year is not top, and 75 >= 60 is mid.
  expect person p1 year = 75
  expect person p1 year.rating = mid
}
"""),
    "KPI025-rollup-without-score": ([("rollup year \"Year\" for people per year {\n  rating r",
                                     "rollup year \"Year\" for people per year {\n  score = mean(periods.score)\n  rating r")],
                                    """
test "fixed" {
  period 2025
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, points] {
    [p1, u1, 40]
  }
  # Every quarter scores 40: the year is 40, below 50, so weak.
  expect person p1 year = 40
  expect person p1 year.rating = weak
}
"""),
    "KPI026-entity-input-without-key": ([("input people {", "input people key person_id {")], """
test "fixed" {
  period 2025-Q1
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, points] {
    [p1, u1, 64]
  }
  expect person p1 score = 64
}
"""),
    "KPI027-leader-when-reads-measure": ([("  points: number between 0 and 100\n}", "  points: number between 0 and 100\n"
                                          "  leads_team: bool = false\n}"),
                                         ("leader when teams_led > 0", "leader when leads_team")], """
test "fixed" {
  period 2025-Q1
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, points, leads_team] {
    [p1, u1, 80, true]
    [p2, u1, 20, false]
  }
  given teams [team_id, lead_id] {
    [t1, p1]
  }
  # Only p1 leads: the unit's criterion is the mean of its leaders' points, 80.
  expect unit u1 score = 80
  expect person p1 teams_led = 1
}
"""),
    "KPI030-missing-zero-on-date": ([("missing zero", "missing skip"),
                                     ("if last_finish > 2025-03-31", "if last_finish is missing or last_finish > 2025-03-31")],
                                    """
test "fixed" {
  period 2025-Q1
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id] {
    [p1, u1]
    [p2, u1]
    [p3, u1]
  }
  given tasks [task_id, person_id, due, finished] {
    [t1, p1, 2025-02-01, 2025-02-10]
    [t2, p2, 2025-02-01, 2025-04-02]
    [t3, p3, 2025-02-01, none]
  }
  # p1 finished in the quarter: 100; p2 finished after it: 0; p3 finished nothing: missing, so 0.
  expect person p1 score = 100
  expect person p2 score = 0
  expect person p3 score = 0
}
"""),
    "KPI030-count-of-collections": ([("measure unit_tasks", 'measure n_tasks "Tasks" for people = count(tasks)\n'
                                      "measure unit_tasks"), ("count(members.tasks)", "sum(members.n_tasks)")], """
test "fixed" {
  period 2025-Q1
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id] {
    [p1, u1]
    [p2, u1]
  }
  given tasks [task_id, person_id] {
    [t1, p1]
    [t2, p1]
    [t3, p2]
  }
  expect unit u1 unit_tasks = 3
}
"""),
    "KPI034-periods-inside-aggregate": ([("count(tasks where count(periods) < 2) > 0",
                                          "count(periods) < 2 and count(tasks) > 0")], """
test "fixed" {
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
  }
  # Every quarter is scored (no task: share missing, so 0): 100, 0, 0, 0 -> 25; four periods: evaluated.
  expect person p1 year = 25
}
"""),
    "KPI063-quota-along-tree": ([("  cap parent.rating\n", "")], """
test "fixed" {
  period 2025-Q1
  given units [unit_id, parent_id, own] {
    [top, none, 90]
    [a, top, 80]
    [b, top, 70]
  }
  expect unit a rating = good
  expect unit b rating = bad
  expect unit top rating = bad
}
"""),
}


@pytest.mark.parametrize("case", sorted(FIXES))
def test_the_documented_fix_checks_clean_and_runs(tmp_path, case):
    text = (CHECK / case / "main.kpi").read_text(encoding="utf-8")
    subs, test = FIXES[case]
    for old, new in subs:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "main.kpi"
    path.write_text(text + test, encoding="utf-8")
    _runs(path)


# ---------------------------------------------------------------- related units that may not exist
def test_a_related_unit_is_missing_when_there_is_none(tmp_path):
    body = UNITS_PEOPLE_TASKS + """
measure top "Top" for units = parent is missing
measure top_unit "In a top unit" for people = unit.parent is missing
measure with_unit "Members with a unit" for units = count(members.unit)
measure under_top "Children" for units = count(children where parent is not missing)

score u "U" for units {
  criterion a "A" points 50 = if top then 10 else 20
  criterion b "B" points 50 = with_unit * 10 + under_top
}

score p "P" for people {
  criterion c "C" points 100 = if top_unit then 30 else 60
}

test "related" {
  period 2025-Q1
  given units [unit_id, parent_id] {
    [top, none]
    [sub, top]
  }
  given people [person_id, unit_id, points] {
    [p1, top, 5]
    [p2, sub, 5]
    [p3, sub, 5]
  }
  given tasks [task_id, person_id, hours] {
  }
  # Unscored criteria: the value is the credit. top has no parent: a = 50 x 10 / 100 = 5; one member
  # with a unit and one child, whose parent exists: b = 50 x (1 x 10 + 1) / 100 = 5.5; total 10.5.
  # sub has a parent: a = 50 x 20 / 100 = 10; two members, no children: b = 50 x 20 / 100 = 10; total 20.
  expect unit top score = 10.5
  expect unit sub score = 20
  expect unit top with_unit = 1
  # p1 is in the top unit: 30; p2 in sub, whose parent exists: 60.
  expect person p1 score = 30
  expect person p2 score = 60
}
"""
    _runs(_write(tmp_path, body))
