"""`kpidsl test`: given rows, periods, comparing expectations with result tables, failures, exit codes.

Most tests score with a stand-in that writes chosen rows into the `results.*` tables
(the engine's contract), so the comparison logic is tested on its own; the tests at
the end run the real engine over the frameworks.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli, testing
from kpidsl.diagnostics import render_human
from kpidsl.period import quarter, year
from kpidsl.semantic.resolve import Loader, resolve

ROOT = Path(__file__).parent.parent

HEADER = """\
framework sample "Sample" version "1" effective 2025-07-01 period quarter

input units "Units" key unit_id {
  unit_id: text
}

input people "People" key person_id {
  person_id: text
  unit_id: ref units
  role: staff | head
  general_points: number between 0 and 30
}

input tasks "Tasks" key task_id period by due {
  task_id: text
  person_id: ref people
  due: date
  done: bool = false
}

units from units
people from people member of unit_id

measure done_share "Done" for people = share(tasks where done) missing zero

scale raters = linear 0 -> 0, 30 -> 100 clamp
scale percent = linear 0 -> 0, 1 -> 100 clamp

score staff "Staff" for people where role = staff {
  criterion general "General" points 30 = general_points scored raters
  group results "Results" points 70 {
    criterion done "Done" weight 100% = done_share scored percent
  }
  bonus extra "Extra" = count(tasks) at most 5
  rating grades
}

rating grades "Grades" {
  good "Good" when score >= 70
  poor "Poor" otherwise
}

rollup yearly "Year" for people per year {
  score = mean(periods.score)
  rating grades
}
"""

GIVEN = """\
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, role, general_points] {
    [p1, u1, staff, 27]
    [p2, u1, staff, 12]
  }
  given tasks [task_id, person_id, due, done] {
    [t1, p1, 2025-08-01, true]
    [t2, p2, 2025-08-02, false]
    [t3, p2, 2025-12-02, true]
  }
"""

# What a correct engine writes for GIVEN in 2025-Q3 (t3 falls in Q4):
# p1: general 27/30 -> credit 90, 27 points; done 1/1 -> credit 100, 70 points; one task, bonus 1
#     but the score is kept at 100: 97 + 1 = 98.
# p2: general 12 -> credit 40, 12 points; done 0/1 -> credit 0; bonus 1: 13, poor.
FIXTURE = {
    "entities": [
        ("people", "p1", "staff", "ok", Decimal("98"), "good", None),
        ("people", "p2", "staff", "ok", Decimal("13"), "poor", None),
        ("units", "u1", None, "not_scored", None, None, None),
    ],
    "items": [
        ("people", "p1", "staff", "general", "criterion", Decimal("27"), Decimal("90"), Decimal("27")),
        ("people", "p1", "staff", "results", "group", None, None, Decimal("70")),
        ("people", "p1", "staff", "results.done", "criterion", Decimal("1"), Decimal("100"), Decimal("70")),
        ("people", "p1", "staff", "extra", "bonus", Decimal("1"), None, Decimal("1")),
        ("people", "p2", "staff", "general", "criterion", Decimal("12"), Decimal("40"), Decimal("12")),
        ("people", "p2", "staff", "results", "group", None, None, Decimal("0")),
        ("people", "p2", "staff", "results.done", "criterion", Decimal("0"), Decimal("0"), Decimal("0")),
        ("people", "p2", "staff", "extra", "bonus", Decimal("1"), None, Decimal("1")),
    ],
    "measures": [
        ("people", "p1", "done_share", Decimal("1")),
        ("people", "p2", "done_share", Decimal("0")),
    ],
}


def write_results(con, fixture: dict) -> None:
    """The `results.*` tables of the engine's contract, holding the fixture's rows."""
    con.execute("CREATE SCHEMA IF NOT EXISTS results")
    con.execute("CREATE TABLE results.entities (entity VARCHAR, id VARCHAR, score_name VARCHAR, status VARCHAR, "
                "score DECIMAL(38,12), rating VARCHAR, reason VARCHAR)")
    con.execute("CREATE TABLE results.items (entity VARCHAR, id VARCHAR, score_name VARCHAR, path VARCHAR, "
                "kind VARCHAR, value DECIMAL(38,12), credit DECIMAL(38,12), contribution DECIMAL(38,12))")
    con.execute("CREATE TABLE results.measures (entity VARCHAR, id VARCHAR, name VARCHAR, value DECIMAL(38,12))")
    for table, rows in fixture.items():
        for row in rows:
            marks = ", ".join("?" for _ in row)
            con.execute(f"INSERT INTO results.{table} VALUES ({marks})", list(row))


class Recorder:
    """A scorer that writes fixture results and remembers what it was asked to score."""

    def __init__(self, fixture: dict | None = None, error: Exception | None = None) -> None:
        self.fixture = FIXTURE if fixture is None else fixture
        self.error = error
        self.calls: list[tuple] = []

    def __call__(self, con, program, period) -> None:
        data = {name: con.execute(f'SELECT * FROM data."{name}" ORDER BY _row').fetchall()
                for name in ("units", "people", "tasks")}
        self.calls.append((period, data))
        if self.error is not None:
            raise self.error
        write_results(con, self.fixture)


def program_of(tmp_path: Path, tests: str, header: str = HEADER):
    path = tmp_path / "sample.kpi"
    path.write_text(header + "\n" + tests, encoding="utf-8")
    program, diags = resolve(str(path), Loader())
    assert program is not None and not [d for d in diags if d.is_error], diags
    return program


# A whole year is scored only by a framework in effect from the year's first day.
YEAR_HEADER = HEADER.replace("effective 2025-07-01", "effective 2025-01-01")


def run_one(tmp_path: Path, body: str, scorer=None, header: str = HEADER):
    program = program_of(tmp_path, f'test "t" {{\n{body}}}\n', header)
    scorer = scorer or Recorder()
    [outcome] = testing.run_program(program, scorer)
    return outcome


def messages(outcome) -> list[str]:
    return [f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in outcome.failures]


# ---------------------------------------------------------------- expectations that hold

@pytest.mark.parametrize("engine", [False, True], ids=["fixture", "engine"])
def test_every_kind_of_expectation_holds(tmp_path, engine):
    scorer = testing.engine_scorer() if engine else Recorder()
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + """\
  expect person p1 score = 98
  expect person p1 rating = good
  expect person p1 staff.score = 98
  expect person p1 staff.rating = good
  expect person p1 done_share = 100%
  expect person p2 done_share = 0
  expect person p1 general = 90
  expect person p1 general = 90%
  expect person p1 done = 100
  expect person p1 results.done = 100
  expect person p1 staff.general = 90
  expect person p1 results = 70
  expect person p1 extra = 1
  expect person p2 score = 13.00
  expect person p2 rating = poor
""", scorer)
    assert outcome.passed, messages(outcome)
    assert outcome.checked == 15


def test_a_year_rolled_up_by_the_engine(tmp_path):
    # p1: Q3 98 (as above); the other quarters no task, done_share 0 (`missing zero`): 27 each;
    #     (27 + 27 + 98 + 27)/4 = 44.75
    # p2: Q3 13; Q4 t3 done: 12 + 70 + 1 = 83; Q1, Q2: 12; (12 + 12 + 13 + 83)/4 = 30
    outcome = run_one(tmp_path, "  period 2025\n" + GIVEN + """\
  expect person p1 yearly.score = 44.75
  expect person p1 yearly.rating = poor
  expect person p2 yearly.score = 30
  expect person p2 yearly = 31
""", testing.engine_scorer(), header=YEAR_HEADER)
    assert messages(outcome) == ["KPI096 65:29 person p2 yearly is 30, expected 31"]


def test_given_rows_reach_the_data_tables_typed_and_in_period(tmp_path):
    recorder = Recorder()
    run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + "  expect person p1 score = 98\n", recorder)
    [(period, data)] = recorder.calls
    assert period == quarter(2025, 3)
    assert [r[1:] for r in data["people"]] == [("p1", "u1", "staff", Decimal("27")), ("p2", "u1", "staff", Decimal("12"))]
    # t3 is due in the fourth quarter: not a row of 2025-Q3
    assert [r[1:] for r in data["tasks"]] == [("t1", "p1", datetime.date(2025, 8, 1), True),
                                              ("t2", "p2", datetime.date(2025, 8, 2), False)]


def test_percent_and_none_cells_and_defaults(tmp_path):
    recorder = Recorder()
    body = """\
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, role, general_points] {
    [p1, u1, staff, 50%]
  }
  given tasks [task_id, person_id, due] {
    [t1, p1, 2025-08-01]
  }
  expect person p1 score = 98
"""
    run_one(tmp_path, body, recorder)
    [(_, data)] = recorder.calls
    assert data["people"][0][4] == Decimal("0.5")
    assert data["tasks"][0][4] is False  # `done` left out: its default


def test_a_test_without_period_scores_the_effective_dates_period(tmp_path):
    recorder = Recorder()
    run_one(tmp_path, GIVEN + "  expect person p1 score = 98\n", recorder)
    assert recorder.calls[0][0] == quarter(2025, 3)
    header = HEADER.replace("effective 2025-07-01 period quarter", "effective 2025-01-01 period year")
    recorder = Recorder()
    run_one(tmp_path, GIVEN + "  expect person p1 score = 98\n", recorder, header=header)
    assert recorder.calls[0][0] == year(2025)


def test_a_test_without_period_needs_an_effective_date(tmp_path):
    header = HEADER.replace(" effective 2025-07-01", "")
    outcome = run_one(tmp_path, GIVEN + "  expect person p1 score = 98\n", Recorder(), header=header)
    assert messages(outcome) == ["KPI095 48:1 this test has no `period`, and the framework has no effective "
                                 "date to take it from"]


def test_a_test_period_before_the_effective_date_fails(tmp_path):
    # `run` refuses these periods, so a test may not score them either.
    outcome = run_one(tmp_path, "  period 2025-Q2\n" + GIVEN + "  expect person p1 score = 98\n", Recorder())
    assert messages(outcome) == ["KPI095 49:3 framework sample 1 applies from 2025-07-01; 2025-Q2 ends before it: "
                                 "score it with the version in effect then, or give the test a later period"]
    outcome = run_one(tmp_path, "  period 2025\n" + GIVEN + "  expect person p1 score = 98\n", Recorder())
    assert "2025 starts on 2025-01-01, before it (2025-Q1 and 2025-Q2 end before it)" in messages(outcome)[0]
    # Without a period, a test scores the period holding the effective date: it must begin on that day.
    header = HEADER.replace("effective 2025-07-01", "effective 2025-08-15")
    outcome = run_one(tmp_path, GIVEN + "  expect person p1 score = 98\n", Recorder(), header=header)
    assert messages(outcome) == [
        "KPI095 48:1 framework sample 1 applies from 2025-08-15; 2025-Q3 starts on 2025-07-01, before it: a period "
        "is scored by one version from its first day, so make the framework effective 2025-07-01 (or score "
        "2025-Q4 onward), or give the test a later period"]


def test_a_failure_says_which_given_rows_fall_outside_the_period(tmp_path):
    # The framework's effective date moved to the fourth quarter: a test without `period` now scores
    # 2025-Q4, where only t3 is due; p1's task is no longer read and the expectation fails.
    header = HEADER.replace("effective 2025-07-01", "effective 2025-10-01")
    outcome = run_one(tmp_path, GIVEN + "  expect person p1 score = 98\n", testing.engine_scorer(), header=header)
    [failure] = outcome.failures
    assert failure.notes[-1] == ("2 of the 3 rows given for `tasks` fall outside 2025-Q4 (2025-10-01 to 2025-12-31) "
                                 "and are not read: t1 (due 2025-08-01), t2 (due 2025-08-02)")
    # A test that passes says nothing of the rows it did not need (t3 here).
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + "  expect person p1 score = 98\n",
                      testing.engine_scorer())
    assert outcome.passed


def test_a_period_that_does_not_exist(tmp_path):
    outcome = run_one(tmp_path, "  period 2025-13\n" + GIVEN + "  expect person p1 score = 98\n")
    assert messages(outcome) == ["KPI095 49:3 '2025-13' is not a period: month 13 is not between 01 and 12"]


# ---------------------------------------------------------------- expectations that fail

def test_a_wrong_score_shows_expected_and_actual_at_the_value(tmp_path):
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + """\
  expect person p1 score = 97.5
  expect person p1 rating = poor
  expect person p1 done_share = 0.5
  expect person p1 general = 27
  expect person p1 results = 69
""")
    assert messages(outcome) == [
        "KPI096 62:28 person p1 score is 98, expected 97.5",
        "KPI096 63:29 person p1 rating is good, expected poor",
        "KPI096 64:33 person p1 done_share is 1, expected 0.5",
        "KPI096 65:30 person p1 general is 90, expected 27",
        "KPI096 66:30 person p1 results is 70, expected 69",
    ]
    text = render_human(outcome.failures[0])
    assert text.splitlines()[:3] == [
        f"{tmp_path / 'sample.kpi'}:62:28: error[KPI096]: person p1 score is 98, expected 97.5",
        "62 |   expect person p1 score = 97.5",
        "                                ^^^^",
    ]
    assert "scores are compared as published: rounded to 2 places, half_up" in text
    assert 'in test "t" at' in text
    # a criterion's failure also says what value it was scored from
    assert "note: its value is 27" in render_human(outcome.failures[3])


def test_results_that_do_not_exist(tmp_path):
    fixture = dict(FIXTURE, entities=FIXTURE["entities"] + [
        ("people", "p3", None, "not_scored", None, None, None),
        ("people", "p4", "staff", "error", None, None, "general_points is missing"),
    ])
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + """\
  expect person p9 score = 1
  expect person p9 done_share = 1
  expect person p3 score = 1
  expect person p4 rating = good
  expect person p4 general = 1
  expect person p1 yearly.score = 1
  expect person p1 missing_thing = 1
""", Recorder(fixture))
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        "person p9 score: there is no person `p9` in the results",
        "person p9 done_share: there is no person `p9` in the results",
        "person p3 score: person p3 is not scored: no score's `where` holds for them",
        "person p4 rating: person p4 could not be scored: general_points is missing",
        "person p4 general: person p4 could not be scored: general_points is missing",
        "person p1 yearly.score: roll-up `yearly` has no result for person p1",
        "person p1 missing_thing: `missing_thing` is not an item of score `staff` that scored person p1",
    ]
    assert outcome.failures[0].notes[-2] == "people in the results: p1, p2, p3, p4"


def test_none_expects_a_missing_value(tmp_path):
    fixture = dict(FIXTURE, measures=FIXTURE["measures"] + [("people", "p3", "done_share", None)],
                   entities=FIXTURE["entities"] + [("people", "p3", "yearly", "not_evaluated", None, None, None)])
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + """\
  expect person p3 done_share = none
  expect person p3 yearly.score = none
  expect person p3 yearly.rating = none
  expect person p1 done_share = none
""", Recorder(fixture))
    assert messages(outcome) == ["KPI096 65:33 person p1 done_share is 1, expected none (missing)"]


def test_rollup_results(tmp_path):
    fixture = dict(FIXTURE, entities=FIXTURE["entities"] + [
        ("people", "p1", "yearly", "ok", Decimal("75.13"), "good", None)])
    outcome = run_one(tmp_path, "  period 2025\n" + GIVEN + """\
  expect person p1 yearly.score = 75.13
  expect person p1 yearly.rating = good
  expect person p1 yearly.score = 75.125
""", Recorder(fixture), header=YEAR_HEADER)
    assert messages(outcome) == ["KPI096 64:35 person p1 yearly.score is 75.13, expected 75.125"]


def test_an_item_name_used_twice_must_be_qualified(tmp_path):
    fixture = dict(FIXTURE, items=FIXTURE["items"] + [
        ("people", "p1", "staff", "extra.done", "criterion", Decimal("1"), Decimal("50"), Decimal("1"))])
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + """\
  expect person p1 done = 100
  expect person p1 results.done = 100
""", Recorder(fixture))
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        "person p1 done: `done` names several items (extra.done, results.done); write the group too"]


def test_unrounded_values_print_exactly_or_marked(tmp_path):
    assert testing.show(Decimal("79.490000000000")) == "79.49"
    assert testing.show(Decimal("0E-12")) == "0"
    assert testing.fraction_text(Fraction(1, 3)) == "0.333333333333…"
    assert testing.fraction_text(Fraction(-5, 4)) == "-1.25"
    assert testing.show(None) == "missing"
    assert testing.show(True) == "true"


# ---------------------------------------------------------------- errors, expected or not

def test_invalid_given_data_points_at_the_cell(tmp_path):
    body = GIVEN.replace("[p2, u1, staff, 12]", "[p2, u1, chief, 45]")
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + body + "  expect person p1 score = 98\n")
    found = messages(outcome)
    assert found[0].startswith("KPI095 55:14 given people: column role: ")
    assert "chief" in found[0]
    assert found[1].startswith("KPI095 55:21 given people: column general_points: ")
    assert found[-1] == "KPI096 62:3 person p1 score: no result to compare, the test's data has problems"


def test_expect_error_met_by_a_data_problem(tmp_path):
    body = GIVEN.replace("[p2, u1, staff, 12]", "[p2, u1, staff, 45]")
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + body + '  expect error "between 0 and 30"\n')
    assert outcome.passed, messages(outcome)
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + body + '  expect error "no such text"\n')
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == ['no error contains "no such text"']
    assert any("45" in note for note in outcome.failures[0].notes)


def test_expect_error_met_by_a_scoring_failure(tmp_path):
    scorer = Recorder(error=testing.ScoringError("organising is missing for person h1"))
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + '  expect error "organising is missing"\n', scorer)
    assert outcome.passed, messages(outcome)
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + "  expect person p1 score = 98\n", scorer)
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        'test "t" could not run: scoring failed: organising is missing for person h1',
        "person p1 score: no result to compare, scoring failed: organising is missing for person h1"]


def test_expect_error_met_by_an_entity_that_fails(tmp_path):
    fixture = dict(FIXTURE, entities=FIXTURE["entities"] + [
        ("people", "p4", "staff", "error", None, None, "criterion `general`: general_points is missing")])
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + '  expect error "general_points is missing"\n'
                      "  expect person p1 score = 98\n", Recorder(fixture))
    assert outcome.passed, messages(outcome)


def test_expect_error_when_nothing_fails(tmp_path):
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + '  expect error "missing"\n')
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        'expected an error containing "missing", but the data was scored without one']


def test_rows_of_one_input_given_twice(tmp_path):
    body = GIVEN + "  given units [unit_id] {\n    [u2]\n  }\n"
    outcome = run_one(tmp_path, "  period 2025-Q3\n" + body + "  expect person p1 score = 98\n")
    assert messages(outcome) == ["KPI095 62:3 rows of `units` are already given at line 50"]


# ---------------------------------------------------------------- the command

@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(testing, "engine_scorer", lambda: Recorder())


def invoke(*args: str):
    return CliRunner().invoke(cli.main, ["test", "--no-color", *args])


def test_command_all_pass(tmp_path, stand_in):
    program_of(tmp_path, 'test "t" {\n  period 2025-Q3\n' + GIVEN + "  expect person p1 score = 98\n}\n")
    result = invoke(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"ok   {tmp_path / 'sample.kpi'}:48: t", "1 passed, 0 failed"]


def test_command_a_failure_exits_1_with_the_summary_last(tmp_path, stand_in):
    program_of(tmp_path, 'test "good" {\n  period 2025-Q3\n' + GIVEN + "  expect person p1 score = 98\n}\n"
               'test "bad" {\n  period 2025-Q3\n' + GIVEN + "  expect person p1 score = 90\n}\n")
    result = invoke(str(tmp_path / "sample.kpi"))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])
    assert f"FAIL {tmp_path / 'sample.kpi'}:64: bad" in lines
    assert f"{tmp_path / 'sample.kpi'}:78:28: error[KPI096]: person p1 score is 98, expected 90" in lines


def test_command_framework_errors_fail_its_tests(tmp_path, stand_in):
    program_of(tmp_path, 'test "t" {\n  period 2025-Q3\n' + GIVEN + "  expect person p1 score = 98\n}\n")
    path = tmp_path / "sample.kpi"
    path.write_text(path.read_text().replace("scored raters", "scored ratres"), encoding="utf-8")
    result = invoke(str(path))
    assert result.exit_code == 1
    assert "error[KPI020]" in result.output
    assert 'test "t" could not run: the framework has errors (listed above)' in result.output
    assert result.output.splitlines()[-1] == "0 passed, 1 failed"


def test_command_usage_and_unreadable_exit_2(tmp_path, stand_in):
    assert invoke().exit_code == 2
    result = invoke(str(tmp_path / "nope.kpi"))
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
    assert result.output.splitlines()[-1] == "0 passed, 0 failed"
    (tmp_path / "empty").mkdir()
    assert invoke(str(tmp_path / "empty")).exit_code == 2
    bad = tmp_path / "bad.kpi"
    bad.write_bytes(b"\xff\xfe framework")
    assert invoke(str(bad)).exit_code == 2


# ---------------------------------------------------------------- the tutorial, run as written

TUTORIAL = ROOT / "docs" / "tutorial.md"
WHOLE_FILE = "<!-- the whole file -->"


def tutorial_blocks(text: str) -> list[tuple[str, list[str], bool]]:
    """(info string, lines, preceded by the whole-file marker) of each fenced block, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```") and lines[i] != "```":
            info = lines[i][3:].strip()
            marked = i > 0 and lines[i - 1].strip() == WHOLE_FILE
            end = lines.index("```", i + 1)
            blocks.append((info, lines[i + 1:end], marked))
            i = end
        i += 1
    return blocks


def shown_output_matches(shown: list[str], actual: list[str]) -> bool:
    """Every shown line appears, in order; a `...` line stands for any number of lines left out."""
    if not shown:
        return not actual
    if shown[0] == "...":
        return any(shown_output_matches(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == shown[0] and shown_output_matches(shown[1:], actual[1:])


def run_shown_command(command: str) -> list[str]:
    import shlex

    words = shlex.split(command)
    if words[0] == "head":
        count = int(words[1].lstrip("-"))
        return Path(words[2]).read_text(encoding="utf-8").splitlines()[:count]
    assert words[0] == "kpidsl", f"the tutorial runs only kpidsl and head: {command}"
    result = CliRunner().invoke(cli.main, words[1:])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    # `fmt --diff` exits with 1 when it shows a change, as the tutorial says; everything else succeeds
    assert result.exit_code == (1 if "--diff" in words else 0), f"$ {command}\n{result.output}"
    return [line.rstrip() for line in result.output.splitlines()]


def test_the_tutorial_works_as_written(tmp_path, monkeypatch):
    """Each framework snippet is added to the file, each command is run on it and prints what is shown,
    and the file ends as the tutorial's whole file: checked, formatted, its test passing."""
    import shutil

    shutil.copytree(ROOT / "frameworks" / "central", tmp_path / "frameworks" / "central")
    (tmp_path / "frameworks" / "units").mkdir()
    shutil.copytree(ROOT / "examples" / "quarter-2025-Q4", tmp_path / "examples" / "quarter-2025-Q4")
    monkeypatch.chdir(tmp_path)
    framework = Path("frameworks/units/inspection.kpi")
    blocks = tutorial_blocks(TUTORIAL.read_text(encoding="utf-8"))
    commands = whole = 0
    for info, lines, marked in blocks:
        if info == "kpi" and marked:
            assert framework.read_text(encoding="utf-8") == "\n".join(lines) + "\n"
            whole += 1
        elif info == "kpi":
            before = framework.read_text(encoding="utf-8") + "\n" if framework.exists() else ""
            framework.write_text(before + "\n".join(lines) + "\n", encoding="utf-8")
        elif info == "console":
            starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
            for k, start in enumerate(starts):
                end = starts[k + 1] if k + 1 < len(starts) else len(lines)
                shown = [line.rstrip() for line in lines[start + 1:end]]
                actual = run_shown_command(lines[start][2:])
                assert shown_output_matches(shown, actual), (lines[start], "\n".join(actual))
                commands += 1
    assert whole == 1 and commands >= 10
    # the whole file, once more, as `make test` would see it
    run = testing.run_paths([str(framework)])
    assert (run.passed, run.failed, run.diagnostics) == (1, 0, ())


def test_shown_output_elisions():
    assert shown_output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert shown_output_matches(["a", "..."], ["a"])
    assert not shown_output_matches(["a", "...", "d"], ["a", "b", "c"])
    assert not shown_output_matches(["a"], ["a", "b"])


def test_expect_error_met_by_a_person_the_engine_cannot_score(tmp_path):
    header = HEADER.replace("  general_points: number between 0 and 30\n",
                            "  general_points: number between 0 and 30\n  rank: integer between 1 and 5?\n")
    header += """
score head "Head" for people where role = head {
  criterion rank_points "Rank" points 100 = rank * 20 missing fail
  rating grades
}
"""
    body = """\
  period 2025-Q3
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, role, general_points, rank] {
    [h1, u1, head, 20, none]
    [h2, u1, head, 20, 4]
  }
  expect person h2 score = 80
  expect person h1 score = 1
"""
    # h1 has no rank and the criterion says `missing fail`: h1's result is an error, h2 is scored
    outcome = run_one(tmp_path, body + '  expect error "`rank_points` has no value"\n', testing.engine_scorer(),
                      header=header)
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        "person h1 score: person h1 could not be scored: criterion `rank_points` has no value (missing fail)"]
    outcome = run_one(tmp_path, body + '  expect error "no such words"\n', testing.engine_scorer(), header=header)
    assert outcome.failures[0].message == 'no error contains "no such words"'
    assert outcome.failures[0].notes == ("error: criterion `rank_points` has no value (missing fail)",)


def test_result_tables_that_were_not_written_hold_nothing(tmp_path):
    fixture = {"entities": FIXTURE["entities"]}

    def scorer(con, program, period):
        con.execute("CREATE SCHEMA IF NOT EXISTS results")
        con.execute("CREATE TABLE results.entities (entity VARCHAR, id VARCHAR, score_name VARCHAR, "
                    "status VARCHAR, score DECIMAL(38,12), rating VARCHAR, reason VARCHAR)")
        for row in fixture["entities"]:
            con.execute("INSERT INTO results.entities VALUES (?, ?, ?, ?, ?, ?, ?)", list(row))

    outcome = run_one(tmp_path, "  period 2025-Q3\n" + GIVEN + "  expect person p1 score = 98\n"
                      "  expect person p1 done_share = 1\n", scorer)
    assert [m.split(" ", 2)[2] for m in messages(outcome)] == [
        "person p1 done_share: measure `done_share` was not computed for person p1"]
