"""Golden cases for the formatter: tests/cases/fmt/<name>.kpi holds an input, a line
`# output`, then the exact expected text (a file without the marker must come
out unchanged). Each case is also checked to be stable, to mean the same as its
input and to keep every comment.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import CASES, UPDATE
from kpidsl.fmt import format_framework, format_text
from kpidsl.source import SourceFile, unknown_span
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import parse_source

MARKER = "# output\n"
FMT_CASES = sorted((CASES / "fmt").glob("*.kpi"))


def split_case(text: str) -> tuple[str, str]:
    """(input, expected output) of a golden case file."""
    if text.startswith(MARKER):
        return "", text[len(MARKER):]
    head, sep, tail = text.partition("\n" + MARKER)
    return (head + "\n", tail) if sep else (text, text)


def _tree(text: str) -> n.Framework:
    framework, diagnostics = lower(parse_source(SourceFile("case.kpi", text)))
    assert framework is not None and diagnostics == ()
    return framework


@pytest.mark.parametrize("case", FMT_CASES, ids=[p.stem for p in FMT_CASES])
def test_fmt_case(case):
    source, expected = split_case(case.read_text(encoding="utf-8"))
    actual, diagnostics = format_text(case.name, source)
    assert diagnostics == []
    if UPDATE and actual is not None and source != expected:
        case.write_text(source + MARKER + actual, encoding="utf-8")
        return
    assert actual == expected
    assert format_text(case.name, expected) == (expected, [])
    before, after = _tree(source), _tree(actual)
    assert after == before
    assert [c.text for c in after.comments] == [c.text for c in before.comments]


def test_every_case_file_has_an_input_and_an_output():
    assert len(FMT_CASES) >= 10
    for case in FMT_CASES:
        source, expected = split_case(case.read_text(encoding="utf-8"))
        assert source.strip() and expected.strip(), case.name


@pytest.mark.parametrize("text, code", [
    ("framework x\nmeasure m for people a + b\n", "KPI001"),
    ('framework x "unclosed\n', "KPI002"),
    ("   \n# only a comment\n", "KPI003"),
    ("", "KPI009"),
])
def test_a_file_that_does_not_parse_is_not_formatted(text, code):
    formatted, diagnostics = format_text("bad.kpi", text)
    assert formatted is None
    assert [d.code for d in diagnostics] == [code]


@pytest.mark.parametrize("text, code", [
    ("framework x\nscale s = linear 0 -> 0, 1 -> 100 clamp clamp\n", "KPI021"),
    ("framework x effective 2025-02-30\n", "KPI032"),
    ("framework x rounding 2 sideways\n", "KPI032"),
])
def test_a_file_whose_tree_lost_something_is_not_formatted(text, code):
    # A duplicated option or an impossible date is dropped or replaced while lowering:
    # printing the tree would silently rewrite what was written.
    formatted, diagnostics = format_text("bad.kpi", text)
    assert formatted is None
    assert code in [d.code for d in diagnostics]


def test_byte_order_mark_and_crlf_are_dropped():
    formatted, diagnostics = format_text("w.kpi", '\ufeffframework w "W"\r\n\r\nmeasure m for people = 1  # one\r\n')
    assert diagnostics == []
    assert formatted == 'framework w "W"\n\nmeasure m for people = 1  # one\n'


def test_no_line_passes_100_characters_where_a_break_is_allowed():
    conds = " and ".join(f"criterion_number_{i} >= {i}" for i in range(12))
    text = f"framework x\nrating r {{\n  top \"Top\" when {conds}\n  rest otherwise\n}}\n"
    formatted, _ = format_text("long.kpi", text)
    assert formatted is not None
    assert max(len(line) for line in formatted.split("\n")) <= 100
    assert _tree(formatted) == _tree(text)


def test_deep_nesting_at_the_parser_limit_formats():
    depth = 100
    text = "framework x\nmeasure m for people = " + "-(" * depth + "a" + ")" * depth + "\n"
    formatted, diagnostics = format_text("deep.kpi", text)
    assert diagnostics == []
    assert formatted == "framework x\n\nmeasure m for people =\n    " + "-" * depth + "a\n"


def _bare(value, unit="number") -> n.Num:
    return n.Num(span=unknown_span(), value=Fraction(value), unit=unit)


@pytest.mark.parametrize("num, text", [
    (_bare(Fraction(1, 3)), "1/3"),
    (_bare(Fraction(1, 4), "percent"), "25%"),
    (_bare(Fraction(-5, 2)), "-2.5"),
    (_bare(Fraction(1, 8)), "0.125"),
    (_bare(7), "7"),
])
def test_a_number_built_without_its_text_prints_from_its_value(num, text):
    span = unknown_span()
    measure = n.Measure(span=span, name="m", label=None, entity="people", expr=num)
    fw = n.Framework(span=span, id="x", title=None, decls=(measure,))
    assert format_framework(fw) == f"framework x\n\nmeasure m for people = {text}\n"
