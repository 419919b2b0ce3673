"""A small framework, its data, and hand-made rows for the `results` tables.

Outputs, reports and explain are tested on these rows, so they do not depend on
the engine; every number below is worked out by hand from FRAMEWORK and the data
(the comments show the arithmetic). The engine computes the same numbers for p1
and u1 from the data (tests/test_run_cli.py checks that end to end).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kpidsl.output.tables import create_result_tables, result_table

FRAMEWORK = """\
framework fx "Fixture frame" version "1.0" effective 2025-07-01 period quarter

input units "Units" key unit_id display name {
  unit_id: text
  name: text
}

input people "People" key person_id display name {
  person_id: text  name: text?
  unit_id: ref units
  role: staff | head
  general_points: number between 0 and 30
  errors: integer >= 0 = 0
  extra: number >= 0 = 0
}

input tasks "Tasks" key task_id period by due {
  task_id: text
  person_id: ref people
  due: date
  done: bool = false
}

units from units
people from people member of unit_id leader when role = head

measure done_share "Share of tasks done" for people = share(tasks where done) missing zero
measure members_mean "Mean score of the members" for units = mean(members.score) missing zero

scale percent "Percent" = linear 0 -> 0, 1 -> 100 clamp
scale raters "Raters" = linear 0 -> 0, 30 -> 100 clamp
scale fewer "Fewer is better" = linear 0 -> 100, 10 -> 0 clamp

score staff "Staff" for people {
  criterion general "General" points 30 = general_points scored raters
  group results "Results" points 70 {
    criterion done "Done" weight 60% = done_share scored percent
    criterion quality "Quality" weight 40% = errors scored fewer
  }
  bonus extra_work "Extra work" = extra at most 2
  rating grades
}

score unit_score "Unit" for units {
  criterion members "Members" points 100 = members_mean
  rating unit_grades
}

rating grades "Grades" {
  top "Top" when score >= 90
  good "Good" when score >= 70
  low "Low" otherwise
  quota top at most 50% of good per unit resolve by score
}

rating unit_grades "Unit grades" {
  good "Good" when score >= 70
  low "Low" otherwise
}
"""

DATA = {
    "units.csv": "unit_id,name\nu1,Unit one\n",
    "people.csv": ("person_id,name,unit_id,role,general_points,errors\n"
                   "p1,Nguyễn Văn An,u1,staff,27,2\np2,<b>Trần</b> Bình,u1,staff,30,0\np3,,u1,staff,30,0\n"),
    "tasks.csv": ("task_id,person_id,due,done\n"
                  "t1,p1,2025-07-10,true\nt2,p1,2025-08-10,false\nt3,p2,2025-08-10,true\n"
                  "t4,p3,2025-09-10,true\nt5,p3,2025-10-10,false\n"),
}

FILE = "fx.kpi"


def line_of(snippet: str) -> int:
    """The line of FRAMEWORK where `snippet` first appears."""
    return FRAMEWORK[:FRAMEWORK.index(snippet)].count("\n") + 1


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """fx.kpi and a data folder in `folder`; returns their paths."""
    framework = folder / FILE
    framework.write_text(FRAMEWORK, encoding="utf-8")
    data = folder / "data"
    data.mkdir(exist_ok=True)
    for name, text in DATA.items():
        (data / name).write_text(text, encoding="utf-8")
    return framework, data


def D(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _staff_items(pid: str, general: str, g_credit: str, done: str, d_credit: str, d_points: str,
                 errors: str, q_credit: str, q_points: str, g_points: str, results: str) -> list[tuple]:
    f = FILE
    return [
        ("people", pid, "staff", "general", None, "criterion", "General", D(general), D(g_credit), D("0.3"),
         D("30"), D(g_points), None, "raters", line_of('criterion general'), f, None),
        ("people", pid, "staff", "results", None, "group", "Results", None, None, D("0.7"), D("70"), D(results),
         None, None, line_of('group results'), f, None),
        ("people", pid, "staff", "results.done", "results", "criterion", "Done", D(done), D(d_credit), D("0.6"),
         D("42"), D(d_points), None, "percent", line_of('criterion done'), f, None),
        ("people", pid, "staff", "results.quality", "results", "criterion", "Quality", D(errors), D(q_credit),
         D("0.4"), D("28"), D(q_points), None, "fewer", line_of('criterion quality'), f, None),
        # No extra work in the data (the field's default, 0): the bonus adds nothing; its budget is its `at most`.
        ("people", pid, "staff", "extra_work", None, "bonus", "Extra work", D("0"), None, None, D("2"), D("0.00"),
         None, None, line_of("bonus extra_work"), f, None),
    ]


def fill_results(con) -> None:
    """Create the `results` tables and put the hand-made rows in them."""
    create_result_tables(con)
    f = FILE
    # p1: general 27 -> credit 90 -> 30 × 90% = 27.00; done 1 of 2 tasks = 0.5 -> credit 50 -> 42 × 50% = 21.00;
    #     2 errors -> fewer: 100 - 2 × 10 = 80 -> 28 × 80% = 22.40; results 43.40; score 70.40: good.
    # p2: 30 -> 30.00; 1 of 1 task -> 42.00; no error -> 28.00; score 100.00: top, kept under the quota.
    # p3: 30 -> 30.00; 9 of 10 tasks = 0.9 -> credit 90 -> 37.80; no error -> 28.00; results 65.80;
    #     score 95.80: top by score, moved down to good by the quota (p2 scores higher).
    # p5: the score could not be computed; p6: no score block applies.
    entities = [
        ("people", "p1", "staff", "ok", D("70.40"), "good", "Good", "good", "u1", None),
        ("people", "p2", "staff", "ok", D("100.00"), "top", "Top", "top", "u1", None),
        ("people", "p3", "staff", "ok", D("95.80"), "good", "Good", "top", "u1", None),
        ("people", "p5", "staff", "error", None, None, None, None, "u1", "general_points is missing (missing fail)"),
        ("people", "p6", None, "not_scored", None, None, None, None, "u1", None),
        ("units", "u1", "unit_score", "ok", D("88.73"), "good", "Good", "good", None, None),
    ]
    items = [
        *_staff_items("p1", "27", "90", "0.5", "50", "21.00", "2", "80", "22.40", "27.00", "43.40"),
        *_staff_items("p2", "30", "100", "1", "100", "42.00", "0", "100", "28.00", "30.00", "70.00"),
        *_staff_items("p3", "30", "100", "0.9", "90", "37.80", "0", "100", "28.00", "30.00", "65.80"),
        # u1: the members' mean (70.40 + 100 + 95.80) / 3 = 88.733333333333, unscored: 100 × 88.73…% = 88.73
        ("units", "u1", "unit_score", "members", None, "criterion", "Members", D("88.733333333333"),
         D("88.733333333333"), D("1"), D("100"), D("88.73"), None, None, line_of("criterion members"), f, None),
    ]
    measures = [
        ("people", "p1", "done_share", D("0.5"), 2, 1, None),
        ("people", "p2", "done_share", D("1"), 1, 1, None),
        ("people", "p3", "done_share", D("0.9"), 10, 9, None),
        ("units", "u1", "members_mean", D("88.733333333333"), 3, 3, None),
    ]
    grades = line_of('rating grades "Grades"')
    top, good, quota = grades + 1, grades + 2, grades + 4
    unit_good = line_of('rating unit_grades "Unit grades"') + 1
    quota_text = "quota top at most 50% of good per unit resolve by score"
    steps = [
        ("people", "p1", "staff", "level", None, "good", "when score >= 70", good, f),
        ("people", "p2", "staff", "level", None, "top", "when score >= 90", top, f),
        ("people", "p3", "staff", "level", None, "top", "when score >= 90", top, f),
        ("people", "p3", "staff", "quota", "top", "good", quota_text, quota, f),
        ("units", "u1", "unit_score", "level", None, "good", "when score >= 70", unit_good, f),
    ]
    quotas = [("grades", "top", "good", "u1", 1, 2, "score", ["p2"], ["p3"])]
    for table, rows in (("entities", entities), ("items", items), ("measures", measures),
                        ("rating_steps", steps), ("quota", quotas)):
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"INSERT INTO {result_table(table)} VALUES ({marks})", rows)


def fake_scorer(extra=None):
    """A stand-in for the engine's scoring step: the hand-made rows (then `extra(con)`), whatever the data."""
    def score(con, program, period):
        fill_results(con)
        if extra is not None:
            extra(con)
        return None
    return score


def program_of(folder: Path):
    """The checked Program of fx.kpi written into `folder`."""
    from kpidsl.pipeline import check_file

    framework, _ = write_inputs(folder)
    program, diags = check_file(str(framework))
    assert program is not None and not [d for d in diags if d.is_error]
    return program
