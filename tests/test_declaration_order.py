"""Declaration order never changes whether or what a framework computes: what checks clean runs, and a
measure or roll-up declared before the score or roll-up it reads gives the same results as one after it."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from kpidsl.pipeline import check_file
from kpidsl.scoring import run_in_memory
from kpidsl.semantic.resolve import Loader
from shuffle import shuffled
from strategies import TYPED_PERIOD, typed_data, typed_frameworks

FRAMEWORKS = ROOT / "frameworks"
EXAMPLES = ROOT / "examples"

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


ROLLUPS = """
score unit "Unit" for units missing zero {
  criterion p "Points" points 100 = mean(members.x) scored same
  rating r
}

rollup person_year "Person, year" for people per year {
  score = mean(periods.score)
  rating capped
}

rollup unit_year "Unit, year" for units per year {
  score = mean(periods.score) - 40
  rating r
}

rating capped {
  good when score >= 50
  bad otherwise
  cap unit.rating
}
"""

STAFF = """
score staff "Staff" for people {
  criterion p "Points" points 100 = x scored same
  rating r
}

rating r {
  good when score >= 50
  bad otherwise
}
"""


def _year(tmp_path, text: str) -> list[tuple]:
    path = tmp_path / "year.kpi"
    path.write_text(text, encoding="utf-8")
    program, diags = check_file(str(path), Loader())
    assert not [d for d in diags if d.is_error], [d.message for d in diags]
    con, load = run_in_memory(program, TABLES, "2025")
    assert load.ok
    return con.execute("SELECT entity, id, score_name, status, score, rating FROM results.entities "
                       "ORDER BY entity, id").fetchall()


def test_a_person_roll_up_capped_at_the_units_roll_up_rating_runs_in_any_order(tmp_path):
    """`unit.rating` in a roll-up is the unit's roll-up rating, whichever roll-up is declared first."""
    person_first = _year(tmp_path, HEAD + STAFF + ROLLUPS)
    a, b = ROLLUPS.index("rollup person_year"), ROLLUPS.index("rollup unit_year")
    c = ROLLUPS.index("rating capped {")
    unit_first = ROLLUPS[:a] + ROLLUPS[b:c] + ROLLUPS[a:b] + ROLLUPS[c:]
    assert _year(tmp_path, HEAD + STAFF + unit_first) == person_first
    # Hand-worked: u1's members score 10, 1 and 60 in each quarter: 23.67, bad; 23.67 - 40 = -16.33
    # for the year, bad. u2's score 70 and 90: 80 in each quarter, good, but 80 - 40 = 40 for the
    # year, bad. Capped at the units' yearly ratings, p3 (60) and p4, p5 (70, 90) are bad; capped at
    # u2's quarter rating, p4 and p5 would have stayed good.
    people = {r[1]: (r[4], r[5]) for r in person_first if r[0] == "people"}
    assert people == {"p1": (10, "bad"), "p2": (1, "bad"), "p3": (60, "bad"), "p4": (70, "bad"),
                      "p5": (90, "bad")}
    units = {r[1]: (r[4], r[5]) for r in person_first if r[0] == "units"}
    assert units == {"u1": (Decimal("-16.33"), "bad"), "u2": (40, "bad")}


# ---------------------------------------------------------------- the property

def _tables(con) -> dict[str, list[tuple]]:
    """Every results table, rows sorted, without the `line` column (which moves with the text)."""
    out = {}
    for (name,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'results' "
                               "ORDER BY 1").fetchall():
        cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                          "table_schema = 'results' AND table_name = ? ORDER BY ordinal_position",
                                          [name]).fetchall() if c != "line"]
        select = ", ".join(f'"{c}"' for c in cols)
        out[name] = sorted(con.execute(f'SELECT {select} FROM results."{name}"').fetchall(), key=repr)
    return out


def _run_text(folder, text: str, tables, period: str):
    path = folder / "main.kpi"
    path.write_text(text, encoding="utf-8")
    program, diags = check_file(str(path), Loader())
    errors = [d for d in diags if d.is_error]
    if errors:
        return None, errors
    con, load = run_in_memory(program, tables, period)
    assert load.ok, [p.render() for p in load.problems]
    return _tables(con), []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_frameworks(), typed_data(), st.randoms(use_true_random=False))
def test_shuffled_declarations_give_the_same_results(tmp_path_factory, text, tables, rnd):
    folder = tmp_path_factory.mktemp("order")
    period = "2025" if "rollup year" in text else TYPED_PERIOD
    before, errors = _run_text(folder, text, tables, period)
    if errors:
        return
    moved = shuffled(text, rnd)
    after, errors = _run_text(folder, moved, tables, period)
    assert not errors, f"checks clean in one order only: {[d.message for d in errors]}\n\n{moved}"
    assert after == before, f"\n{text}\n\nshuffled:\n{moved}"


def _copy_shuffled(target: Path, seed: int) -> None:
    rnd = random.Random(seed)
    for path in sorted(FRAMEWORKS.rglob("*.kpi")):
        out = target / path.relative_to(FRAMEWORKS)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(shuffled(path.read_text(encoding="utf-8"), rnd, str(path)), encoding="utf-8")
    (target / ".kpidsl-root").write_text("", encoding="utf-8")  # the copy is a framework root: units use ../central


# The administration frame's year scores its quarters (Q4 with data) and rolls them up.
RUNS = [("central/central.kpi", "quarter-2025-Q3", "2025-Q3"),
        ("units/administration.kpi", "quarter-2025-Q4", "2025")]


def _scored(framework: Path, data: Path, period: str) -> dict[str, list[tuple]]:
    """The results tables of scoring `period` of the examples with `framework` (no files written)."""
    import duckdb

    from kpidsl.data.sources import open_source
    from kpidsl.data.validate import load_and_validate
    from kpidsl.period import parse_period
    from kpidsl.scoring import score_period

    program, diags = check_file(str(framework), Loader())
    assert program is not None and not [d for d in diags if d.is_error], [d.message for d in diags]
    con = duckdb.connect()
    load = load_and_validate(con, program, open_source(str(data)), parse_period(period))
    assert load.ok
    score_period(con, program, period=parse_period(period))
    tables = _tables(con)
    for rows_of in ("items", "rating_steps"):   # the file a rule is written in, named from the frameworks' folder
        names = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                           "table_schema = 'results' AND table_name = ? AND column_name <> 'line' "
                                           "ORDER BY ordinal_position", [rows_of]).fetchall()]
        at = names.index("file")
        root = framework.parents[1]
        tables[rows_of] = sorted((tuple(Path(v).relative_to(root).as_posix() if i == at and v else v
                                        for i, v in enumerate(row)) for row in tables[rows_of]), key=repr)
    return tables


@pytest.mark.parametrize("seed", [1])
def test_the_frameworks_give_the_same_results_with_their_declarations_shuffled(tmp_path, seed):
    shuffled_root = tmp_path / "shuffled"
    _copy_shuffled(shuffled_root, seed)
    for framework, data, period in RUNS:
        before = _scored(FRAMEWORKS / framework, EXAMPLES / data, period)
        assert _scored(shuffled_root / framework, EXAMPLES / data, period) == before, (framework, period)


def test_a_units_yearly_rating_capped_at_its_parents_is_computed_down_the_tree(tmp_path):
    """A roll-up rating that reads the parent unit's roll-up rating is computed one depth at a time."""
    text = HEAD + STAFF + ROLLUPS.replace("rating r\n}\n\nrating capped", "rating ur\n}\n\nrating capped") + """
rating ur {
  good when score >= 0
  bad otherwise
  cap parent.rating
}
"""
    rows = {(r[0], r[1]): (r[4], r[5]) for r in _year(tmp_path, text)}
    # u1's year is -16.33, bad; u2's is 40, good by its own score but capped at its parent u1: bad.
    assert rows[("units", "u1")] == (Decimal("-16.33"), "bad") and rows[("units", "u2")] == (40, "bad")


def test_a_quota_resolved_by_a_measure_declared_after_the_rating_runs(tmp_path):
    """`resolve by MEASURE` reads the measure: the rating is computed after it, wherever it is declared."""
    rating = SCORES[SCORES.index("rating r {"):]
    quota = rating.replace("  bad otherwise\n", "  bad otherwise\n  quota good at most 50% of all per unit "
                                                   "resolve by rank\n")
    measures = MEASURES["count"] + "measure rank for people = x\n"
    before = _results(tmp_path, HEAD + SCORES.replace(rating, quota) + measures)
    after = _results(tmp_path, HEAD + measures + SCORES.replace(rating, quota))
    assert before == after
