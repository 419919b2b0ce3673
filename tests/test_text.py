"""kpidsl/text.py: what a terminal may be shown, and which CSV cells are neutralised, as laws."""

from __future__ import annotations

import unicodedata

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpidsl.text import is_formula_like, neutralised, neutralised_sql, printable

# Text that leans towards the characters that matter: controls, separators, bidi overrides, formula starts.
TRICKY = st.text(alphabet=st.one_of(
    st.sampled_from("=+-@\t\r\n\x1b\x07\x00\x9b\u2028\u2029\u202e\u2066\u200e\ufeff\u00a0.0123456789e,ab "),
    st.characters()), max_size=30)


def _safe(ch: str) -> bool:
    return not (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in "\u061c\u200e\u200f\u202a\u202b"
                "\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@given(TRICKY)
def test_printable_shows_nothing_that_drives_a_terminal_one_for_one(text):
    shown = printable(text)
    assert len(shown) == len(text)  # a caret under the text stays aligned
    assert all(_safe(ch) for ch in shown)
    assert printable(shown) == shown


@given(TRICKY)
def test_printable_keeps_newlines_only_when_asked(text):
    shown = printable(text, keep_newlines=True)
    assert shown.count("\n") == text.count("\n")
    assert "\n" not in printable(text)


@given(TRICKY)
def test_a_neutralised_cell_is_never_formula_like_and_keeps_its_text(text):
    cell = neutralised(text)
    assert not is_formula_like(cell)
    assert cell == text or cell == "'" + text


@pytest.mark.parametrize("number", ["-1.5", "+2", "-0", "-.5", "12", "-123456789012345678901234567890.5"])
def test_numbers_are_not_formulas(number):
    assert neutralised(number) == number


@settings(max_examples=60, deadline=None)
@given(st.lists(TRICKY, min_size=1, max_size=20))
def test_the_sql_form_neutralises_exactly_as_python_does(texts):
    # DuckDB's VARCHAR holds no NUL and no lone surrogate (no UTF-8 has one).
    texts = ["".join(ch for ch in t if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF) for t in texts]
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
        got = [row[0] for row in con.execute(f"SELECT {neutralised_sql('v')} FROM t ORDER BY i").fetchall()]
    assert got == [neutralised(t) for t in texts]
