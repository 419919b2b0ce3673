"""Scope analysis: what each name resolves to, the types inferred, and what each result reads."""

from __future__ import annotations

import os

import pytest

from conftest import ROOT
from kpidsl.check import CheckContext, check_program, cycles, missing
from kpidsl.semantic.resolve import Loader, Program, resolve
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import Analysis, describe_node
from kpidsl.semantic.walk import walk
from kpidsl.syntax import nodes as n

BASE = """
framework demo "Demo"

input units key unit_id {
  unit_id: text
  parent_id: ref units?
}

input people key person_id {
  person_id: text
  unit_id: ref units
  role: staff | head
  general_points: number between 0 and 30
  bonus_points: number?
}

input tasks key task_id period by due {
  task_id: text
  person_id: ref people
  kind: planned | unexpected
  coefficient: number > 0 = 1
  due: date
  finished: date?
}

units from units parent parent_id
people from people member of unit_id leader when role = head
"""


def _program(body: str) -> Program:
    path = os.path.abspath("scope_case.kpi")
    program, diags = resolve(path, Loader({os.path.normpath(path): (BASE + body).encode()}))
    assert program is not None, diags
    return program


def _analyse(body: str) -> tuple[Program, Analysis, CheckContext]:
    program = _program(body)
    ctx = CheckContext(program)
    return program, scope_of(ctx), ctx


def _names(expr: n.Node) -> dict[str, n.Name]:
    return {e.dotted: e for e in walk(expr) if isinstance(e, n.Name)}


def test_measure_names_resolve_to_fields_rows_and_enum_values():
    program, scope, _ = _analyse("""
measure extra for people = count(tasks where kind = unexpected and finished is not missing)
""")
    expr = program.measures["extra"].expr
    names = _names(expr)
    assert scope.refs[id(names["tasks"])].sym.kind == "collection"
    assert scope.refs[id(names["kind"])].sym.kind == "field"
    assert scope.refs[id(names["kind"])].in_row
    assert scope.refs[id(names["unexpected"])].sym.kind == "enum_value"
    assert scope.type_of(expr).kind == "integer"
    assert scope.measure_types["extra"].kind == "integer"
    assert not scope.problems


def test_types_of_arithmetic_and_aggregates():
    program, scope, _ = _analyse("""
measure assigned for people = sum(tasks.coefficient)
measure ratio for people = count(tasks) / assigned
measure first_due for people = min(tasks.due)
measure late for people = count(tasks where finished > due) > 0
""")
    kinds = {name: scope.measure_types[name].kind for name in program.measures}
    assert kinds == {"assigned": "number", "ratio": "number", "first_due": "date", "late": "bool"}


def test_measures_are_typed_in_dependency_order_whatever_the_declaration_order():
    program, scope, _ = _analyse("""
measure c for people = b > 1
measure b for people = a + 1
measure a for people = count(tasks)
""")
    assert scope.measure_order == ["a", "b", "c"]
    assert scope.measure_types["c"].kind == "bool"


def test_relations_results_and_narrowed_members():
    program, scope, _ = _analyse("""
measure unit_good for people = unit.rating >= good
measure staff_share for units = share(members.staff where rating != completed)

score staff for people where role = staff {
  criterion general points 100 = general_points
  rating national
}

score unit_kpi for units missing zero {
  criterion share points 100 = staff_share * 100
  rating national_units
}

rating national {
  good when score >= 70
  completed otherwise
}

rating national_units {
  good when score >= 70
  completed otherwise
}
""")
    names = _names(program.measures["unit_good"].expr)
    ref = scope.refs[id(names["unit.rating"])]
    assert ref.related and ref.type.kind == "level" and ref.type.owner == "national_units"
    assert scope.refs[id(names["good"])].sym.kind == "level"
    # `members.staff` reads who the staff score takes and that score's rating, no other result.
    assert set(scope.edges[("measure", "staff_share")]) == {("population", "staff"),
                                                          ("rating", "national", "score", "staff")}
    assert set(scope.edges[("measure", "unit_good")]) == {("rating", "national_units", "score", "unit_kpi")}
    assert ("score", "staff") in scope.edges[("rating", "national", "score", "staff")]
    assert not scope.problems


def test_rollup_periods_and_their_ratings():
    program, scope, _ = _analyse("""
score staff for people {
  criterion general points 100 = general_points
  rating national
}

rating national {
  good when score >= 70
  completed otherwise
}

rating yearly_rating {
  good when score >= 70 and count(periods where rating = good) >= 2
  completed otherwise
}

rollup yearly for people per year {
  score = mean(periods.score)
  rating yearly_rating
}
""")
    assert not scope.problems
    assert set(scope.edges[("rollup", "yearly")]) == {("score", "staff")}
    reads = set(scope.edges[("rating", "yearly_rating", "rollup", "yearly")])
    assert reads == {("rollup", "yearly"), ("rating", "national", "score", "staff")}


def test_unknown_names_are_reported_once_with_a_suggestion():
    _, scope, _ = _analyse("""
measure a for people = count(taks) + count(taks)
measure b for people = sum(tasks.coeficient)
""")
    found = sorted((d.code, d.message, d.help) for d in scope.problems.values())
    assert found == [
        ("KPI020", "unknown name `taks`", "did you mean `tasks`?"),
        ("KPI020", "unknown name `taks`", "did you mean `tasks`?"),
        ("KPI022", "input `tasks` has no field `coeficient`", "did you mean `coefficient`?"),
    ]
    assert len({d.span.start for d in scope.problems.values()}) == 3
    assert scope.incomplete


def _cycles(body: str) -> list[str]:
    program = _program(body)
    return [d.message for d in cycles.run(program, CheckContext(program))]


def test_a_loop_up_the_unit_tree_is_not_a_cycle():
    assert _cycles("""
score unit_kpi for units missing zero {
  criterion upper points 100 = if parent.score is missing then 0 else parent.score
}
""") == []


def test_a_loop_within_one_entity_is_a_cycle():
    assert _cycles("""
measure a for people = b + 1
measure b for people = a * 2
""") == ["reference cycle: measure `a` -> measure `b` -> measure `a`"]


def test_a_loop_up_and_back_down_is_a_cycle():
    assert _cycles("""
score unit_kpi for units missing zero {
  criterion lower points 100 = mean(children.score)
}
measure parent_score for units = parent.score
score other for units where parent_score > 0 missing zero {
  criterion c points 100 = 1
}
""") == ["reference cycle: score `unit_kpi` -> score `other` -> measure `parent_score` -> score `unit_kpi`"]


@pytest.mark.parametrize("expr, can_be_missing", [
    ("bonus_points", True),
    ("if bonus_points is missing then 0 else bonus_points", False),
    ("if bonus_points is not missing and bonus_points > 0 then bonus_points else 0", False),
    ("if bonus_points is missing or bonus_points < 0 then 0 else bonus_points", False),
    ("general_points / 30", False),
    ("general_points / count(tasks)", True),
    ("mean(tasks.coefficient)", True),
    ("sum(tasks.coefficient)", False),
    ("share(tasks where finished <= due)", True),
    ("count(tasks where finished is missing)", False),
    ("round(general_points / 0, 2)", True),
])
def test_what_can_be_missing(expr, can_be_missing):
    program = _program(f"""
score staff for people {{
  criterion c points 100 = {expr}
}}
""")
    found = list(missing.run(program, CheckContext(program)))
    assert [d.code for d in found] == (["KPI090"] if can_be_missing else [])


def test_a_chain_of_measures_is_told_by_its_first_link_and_its_cause():
    program = _program("""
measure a for people = b + 1
measure b for people = c * 2
measure c for people = general_points / count(tasks)
score staff for people {
  criterion quantity points 100 = a
}
""")
    [found] = missing.run(program, CheckContext(program))
    assert found.message == ("criterion `quantity` can be missing: measure `a` has no `missing` policy and reads "
                             "measure `c`, where `general_points / count(tasks)` divides by `count(tasks)`, "
                             "which can be 0")
    assert found.span.source.text[found.span.start:found.span.end] == "a"


def test_the_central_frame_resolves_completely():
    path = str(ROOT / "frameworks" / "central" / "central.kpi")
    program, diags = resolve(path, Loader())
    assert program is not None
    ctx = CheckContext(program)
    scope = scope_of(ctx)
    assert not scope.problems and not scope.incomplete
    unknown = [s.what for s in scope.sites if scope.type_of(s.expr).kind == "unknown"]
    assert unknown == []
    assert not [d for d in check_program(program) if d.code in ("KPI020", "KPI030", "KPI070", "KPI090")]
    assert describe_node(("rating", "national", "score", "staff")) == "rating `national` of score `staff`"
