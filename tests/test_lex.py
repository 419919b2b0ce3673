"""The lexer: keywords are soft, and numbers become INT or PERIOD only where the grammar wants them."""

from __future__ import annotations

from fractions import Fraction

from kpidsl.source import SourceFile
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import parse_source


def lowered(text: str) -> n.Framework:
    framework, diags = lower(parse_source(SourceFile("t.kpi", text)))
    assert not diags and framework is not None, [d.message for d in diags]
    return framework


def test_keywords_are_names_where_a_name_is_wanted():
    fw = lowered(
        "framework t\n"
        "input people key person_id {\n"
        "  person_id: text\n"
        "  coefficient: number = 1\n"
        "  score: number = 0\n"
        "  period: date?\n"
        "  rating: text\n"
        "}\n"
    )
    (inp,) = fw.decls
    assert [f.name for f in inp.fields] == ["person_id", "coefficient", "score", "period", "rating"]


def test_a_keyword_stays_a_keyword_where_it_starts_a_declaration():
    fw = lowered("framework t\nscale score = pass 100 fail 0\nscore s for people { }\n")
    assert isinstance(fw.decls[0], n.Scale) and fw.decls[0].name == "score"
    assert isinstance(fw.decls[1], n.Score)


def test_year_month_is_a_period_only_in_a_test():
    fw = lowered('framework t\nmeasure m for people = 2025-09\ntest "x" { period 2025-09 }\n')
    measure, test = fw.decls
    assert measure.expr.ops == ("-",) and measure.expr.operands[1].value == Fraction(9)
    assert test.items[0].period == "2025-09"


def test_a_bare_year_is_a_period_in_a_test_and_a_number_elsewhere():
    fw = lowered('framework t\n  rounding 3\nmeasure m for people = 2025\ntest "x" { period 2025 }\n')
    assert fw.rounding.places == 3
    assert fw.decls[0].expr.value == Fraction(2025)
    assert fw.decls[1].items[0].period == "2025"


def test_comments_are_collected_with_their_place():
    parsed = parse_source(SourceFile("t.kpi", "# top\nframework t # end\n"))
    assert [(c.text, c.line, c.own_line) for c in parsed.comments] == [("# top", 1, True), ("# end", 2, False)]
