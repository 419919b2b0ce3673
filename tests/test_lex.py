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


# ---------------------------------------------------------------- the lexer against the grammar's terminals

# The lexer's pattern group that reads each regex terminal of the grammar. INT is read as a NUMBER
# and a bare year as a NUMBER too: the parser state then makes them INT or PERIOD.
_GROUPS = {"COMMENT": {"COMMENT"}, "STRING": {"STRING"}, "DATE": {"DATE"}, "PERIOD": {"PERIOD", "NUMBER"},
           "PERCENT": {"PERCENT"}, "NUMBER": {"NUMBER"}, "INT": {"NUMBER"}, "NAME": {"WORD"}}
_SAMPLES = ["2025", "2025-Q3", "2025-Q5", "2025-09", "2025-9", "2025-07-01", "2025-7-1", "12", "007", "1.5", "1.",
            ".5", "1.5.2", "50%", "2.5%", "%", '"x"', '"a\\"b"', '"a\\qb"', '"open', "name", "_x", "điểm_chung", "1x",
            "x1", "# a comment", "#", "-", "1e5", "12a"]


def test_the_lexer_reads_exactly_what_each_terminal_of_the_grammar_matches():
    import re

    from kpidsl.syntax.lexer import _MASTER
    from kpidsl.syntax.parser import parser

    terminals = {t.name: t.pattern for t in parser().terminals}
    regex = {name: p.to_regexp() for name, p in terminals.items() if p.type == "re"}
    # A regex terminal the lexer does not know would never be produced: add it to the lexer (and here).
    assert set(regex) <= set(_GROUPS) | {"WS", "__IGNORE_0", "__IGNORE_1"}, set(regex) - set(_GROUPS)
    for name, pattern in regex.items():
        if name not in _GROUPS:
            continue
        for sample in _SAMPLES:
            grammar = re.fullmatch(pattern, sample) is not None
            m = _MASTER.fullmatch(sample)
            lexer = m is not None and m.lastgroup in _GROUPS[name]
            if name == "PERIOD" and lexer and m.lastgroup == "NUMBER":
                lexer = re.fullmatch(r"\d{4}", sample) is not None   # a bare year only
            if name == "INT" and lexer:
                lexer = "." not in sample
            assert grammar == lexer, (name, sample, grammar, lexer)
