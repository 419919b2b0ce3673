"""Exact decimal text of fractions."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from kpidsl.decimals import decimal_text


def test_known_values():
    assert [decimal_text(Fraction(t)) for t in ("1/4", "-1/4", "5", "0.05", "-0.001", "1/8", "1/3", "-2/3")] == [
        "0.25", "-0.25", "5", "0.05", "-0.001", "0.125", "1/3", "-2/3"]


@given(st.integers(-10**9, 10**9), st.integers(0, 12))
def test_terminating_decimals_read_back_exactly(units, places):
    value = Fraction(units, 10 ** places)
    text = decimal_text(value)
    assert "/" not in text and Fraction(text) == value
