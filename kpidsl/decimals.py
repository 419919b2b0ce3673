"""Exact decimal text for fractions: 1/4 -> "0.25"; a fraction with no finite decimal stays "n/d"."""

from __future__ import annotations

from fractions import Fraction


def decimal_text(value: Fraction) -> str:
    """The shortest exact decimal for `value`, or `numerator/denominator` when none exists."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10 ** places // value.denominator)
    if places:
        digits = digits.rjust(places + 1, "0")
        digits = f"{digits[:-places]}.{digits[-places:]}"
    return ("-" if value < 0 else "") + digits
