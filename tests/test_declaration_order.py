"""Declaration order never changes whether or what a framework computes: what checks clean runs, and a
measure or roll-up declared before the score or roll-up it reads gives the same results as one after it."""

from __future__ import annotations

import pytest

from kpidsl.engine.execute import run_in_memory
from kpidsl.pipeline import check_file
from kpidsl.semantic.resolve import Loader

HEAD = """framework cases.order "Order" version "1" period quarter

input units key unit_id {
  unit_id: text
  parent_id: ref units?
}

input people key person_id {
  person_id: text
  unit_id: ref units
  role: staff | head
  x: number between 0 and 100
}

units from units parent parent_id
people from people member of unit_id leader when role = head

scale same = linear 0 -> 0, 100 -> 100 clamp
"""

SCORES = """
score staff "Staff" for people where role = staff {
  criterion p "Points" points 100 = x scored same
  rating r
}

score head "Head" for people {
  criterion p "Points" points 100 = team scored same
  rating r
}

score unit "Unit" for units {
  criterion p "Points" points 100 = crew scored same
}

rating r {
  good when score >= 50
  bad otherwise
}
"""

TABLES = {
    "units": (["unit_id", "parent_id"], [["u1", None], ["u2", "u1"]]),
    "people": (["person_id", "unit_id", "role", "x"],
               [["p1", "u1", "head", "10"], ["p2", "u1", "staff", "1"], ["p3", "u1", "staff", "60"],
                ["p4", "u2", "head", "70"], ["p5", "u2", "staff", "90"]]),
}

# The measures of issue's shape: a person's or a unit's measure that reads who a score takes, without
# reading any result of that score.
MEASURES = {
    "where": ("measure team for people = if count(unit.members.staff where x != 1) = 0 then 100 else 50\n"
              "measure crew for units = count(members.staff where x != 1) * 10\n"),
    "count": ("measure team for people = count(unit.members.staff) * 20\n"
              "measure crew for units = count(members.staff) * 10\n"),
}


def _results(tmp_path, text: str) -> list[tuple]:
    path = tmp_path / "order.kpi"
    path.write_text(text, encoding="utf-8")
    program, diags = check_file(str(path), Loader())
    assert not [d for d in diags if d.is_error], [d.message for d in diags]
    con, load = run_in_memory(program, TABLES, "2025-Q3")
    assert load.ok
    return con.execute("SELECT entity, id, score_name, status, score, rating FROM results.entities "
                       "ORDER BY entity, id").fetchall()


@pytest.mark.parametrize("shape", sorted(MEASURES))
def test_a_measure_reading_a_scores_population_runs_when_declared_before_the_score(tmp_path, shape):
    after = _results(tmp_path, HEAD + SCORES + MEASURES[shape])
    before = _results(tmp_path, HEAD + MEASURES[shape] + SCORES)
    assert before == after
    if shape == "count":
        # Hand-worked: u1 has two staff (p2, p3), u2 one (p5); heads p1 and p4 score 40 and 20 points.
        assert [row[1:] for row in before if row[1] in ("p1", "p4")] == [
            ("p1", "head", "ok", 40, "bad"), ("p4", "head", "ok", 20, "bad")]
        assert [row[4] for row in before if row[0] == "units"] == [20, 10]


def test_a_score_may_read_who_it_takes(tmp_path):
    """Who a score takes is decided before its criteria: a criterion may count the score's own group."""
    text = HEAD + SCORES.replace("= x scored same", "= count(unit.members.staff) * 10 scored same") \
        + MEASURES["count"]
    rows = _results(tmp_path, text)
    # u1 has two staff: p2 and p3 score 20; u2 one: p5 scores 10.
    assert [(r[1], r[4]) for r in rows if r[2] == "staff"] == [("p2", 20), ("p3", 20), ("p5", 10)]
