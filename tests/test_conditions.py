"""semantic/conditions.py: whether a score's `where` is covered by earlier ones, against a plain reading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpidsl.semantic.conditions import covered, overlap
from kpidsl.semantic.resolve import Loader, resolve

HEAD = """framework t
input people key person_id {
  person_id: text
  role: staff | deputy | head
  points: number
  joined: date?
  disciplined: bool = false
  grade: low | high?
  name: text
}
"""


def parsed(*conditions: str):
    """The fields of `people` and each condition as the AST of a score's `where` ("" for none)."""
    scores = "".join(f"score s{i} for people{' where ' + c if c else ''} {{\n}}\n" for i, c in enumerate(conditions))
    program, diags = resolve("t.kpi", Loader({"t.kpi": (HEAD + scores).encode()}))
    assert program is not None and not diags, [d.message for d in diags]
    return program.inputs["people"].fields, [program.scores[f"s{i}"].where for i in range(len(conditions))]


@pytest.mark.parametrize(("later", "earlier", "expected"), [
    ("role = staff", ["role = staff"], True),
    ("role in [staff, deputy]", ["role = staff"], False),
    ("role in [staff, deputy]", ["role = staff", "role != head and role != staff"], True),
    ("role = deputy", ["role != staff"], True),
    ("points > 20", ["points >= 10"], True),
    ("points > 5", ["points >= 10"], False),
    ("points >= 10", ["points > 10"], False),
    ("10 < points", ["points >= 10"], True),
    ("joined >= 2025-01-01", ["joined > 2024-12-31"], True),
    ("joined >= 2025-01-01", ["joined > 2025-01-01"], False),
    ("disciplined", ["disciplined = true"], True),
    ("not disciplined", ["disciplined = false"], True),
    ("grade = high", ["grade is not missing"], True),
    ("grade is missing", ["grade != low", "grade != high"], False),   # != on a missing value does not hold
    ("name = \"x\"", ["name != \"y\""], True),
    ("name != \"x\"", ["name = \"y\""], False),
    ("count(tasks) > 3", ["count(tasks) > 3"], True),                 # the same unknown condition
    ("count(tasks) > 3 and role = staff", ["role = staff or count(tasks) > 3"], True),
    ("count(tasks) > 3", ["count(tasks) >= 4"], False),                # unknown conditions are not compared
    ("", ["role = staff"], False),
    ("role = staff", [""], True),
    ("role = staff", [], False),
])
def test_covered(later, earlier, expected):
    fields, (cond, *before) = parsed(later, *earlier)
    assert covered(fields, cond, before) is expected


def test_overlap():
    fields, (a, b, c) = parsed("role = staff", "role != staff", "points > 3")
    assert overlap(fields, a, b) is False
    assert overlap(fields, a, c) is True


ROLES = ("staff", "deputy", "head")
atoms = st.sampled_from([("role = staff", {"staff"}), ("role = deputy", {"deputy"}), ("role != head", {"staff", "deputy"}),
                         ("role in [deputy, head]", {"deputy", "head"})])
conditions = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, b: (f"({a[0]} and {b[0]})", a[1] & b[1]), inner, inner),
    st.builds(lambda a, b: (f"({a[0]} or {b[0]})", a[1] | b[1]), inner, inner),
    st.builds(lambda a: (f"not ({a[0]})", set(ROLES) - a[1]), inner)), max_leaves=4)


@settings(max_examples=60, deadline=None)
@given(conditions, st.lists(conditions, min_size=1, max_size=3))
def test_covered_agrees_with_the_sets_of_roles_each_condition_takes(later, earlier):
    fields, (cond, *before) = parsed(later[0], *(e[0] for e in earlier))
    taken = set().union(*(e[1] for e in earlier))
    assert covered(fields, cond, before) is (later[1] <= taken)
