"""Laws of the semantic diff on generated frameworks: diff(A, A) = ∅, diff(A, fmt(A)) = ∅, diff(B, A) inverts diff(A, B)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from kpidsl.fmt import format_framework, format_text
from kpidsl.semantic.resolve import Loader, resolve
from kpidsl.versions.compare import ADDED, REMOVED, Change, compare
from kpidsl.versions.model import build
from strategies import frameworks, typed_frameworks

ROOT = Path(__file__).parent.parent
INVERSE = {ADDED: REMOVED, REMOVED: ADDED}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def model(text: str, name: str = "m.kpi"):
    program, _ = resolve(name, Loader({name: text.encode()}))
    assert program is not None
    return build(program, include_tests=True)


def flat(changes: list[Change]) -> list[Change]:
    out = []
    for c in changes:
        out.append(c)
        out.extend(flat(c.folded))
    return out


def shape(changes: list[Change], invert: bool = False) -> set[tuple]:
    """What a diff says, hints aside: each change's identity, action, fields and points."""
    out = set()
    for c in flat(changes):
        action = INVERSE.get(c.action, c.action) if invert else c.action
        fields = tuple(sorted((k, *(v[::-1] if invert else v)) for k, v in c.fields.items()))
        points = c.points[::-1] if invert and c.points is not None else c.points
        details = len(c.details)
        out.add((c.key, action, fields, points, details))
    return out


@SETTINGS
@given(typed_frameworks())
def test_a_framework_does_not_differ_from_itself(text):
    assert compare(model(text, "a.kpi"), model(text, "b.kpi")) == []


@SETTINGS
@given(typed_frameworks())
def test_formatting_changes_nothing(text):
    formatted, diags = format_text("a.kpi", text)
    assert formatted is not None, [d.message for d in diags]
    assert compare(model(text, "a.kpi"), model(formatted, "b.kpi")) == []


@SETTINGS
@given(frameworks)
def test_any_tree_the_grammar_accepts_diffs_without_failing(tree):
    # Frameworks with every kind of declaration, most of them not clean: the diff reads them all.
    text = format_framework(tree)
    assert compare(model(text, "a.kpi"), model(text, "b.kpi")) == []
    assert compare(model(text, "a.kpi"), model(format_framework(tree), "b.kpi")) == []


@SETTINGS
@given(typed_frameworks(), typed_frameworks())
def test_the_diff_the_other_way_is_the_inverse(a, b):
    forward = compare(model(a, "a.kpi"), model(b, "b.kpi"))
    backward = compare(model(b, "b.kpi"), model(a, "a.kpi"))
    assert shape(forward, invert=True) == shape(backward)
    assert (a == b) or forward, "two different generated frameworks differ"


@SETTINGS
@given(frameworks, frameworks)
def test_the_inverse_holds_for_any_two_trees(a, b):
    ta, tb = format_framework(a), format_framework(b)
    forward = compare(model(ta, "a.kpi"), model(tb, "b.kpi"))
    backward = compare(model(tb, "b.kpi"), model(ta, "a.kpi"))
    assert shape(forward, invert=True) == shape(backward)


def test_the_real_frameworks_do_not_differ_from_their_formatting():
    for path in sorted((ROOT / "frameworks").rglob("*.kpi")):
        text = path.read_text(encoding="utf-8")
        formatted, _ = format_text(str(path), text)
        assert formatted is not None
        loader_a = Loader()
        a, _ = resolve(str(path), loader_a)
        b, _ = resolve(str(path), Loader({str(path): formatted.encode()}))
        assert compare(build(a), build(b)) == [], path


@pytest.mark.parametrize(("old", "new"), [("1/3", "1/3"), ("25%", "0.25"), ("25%", "1/4"), ("0.5", "50%"),
                                           ("1", "100%")])
def test_a_share_written_another_way_is_the_same_share(old, new):
    text = "framework t\nscore s for people {\n  criterion c weight SHARE = 1\n}\n"
    assert compare(model(text.replace("SHARE", old), "a.kpi"), model(text.replace("SHARE", new), "b.kpi")) == []
    assert compare(model(text.replace("SHARE", old), "a.kpi"), model(text.replace("SHARE", "0.3"), "b.kpi")) != []
