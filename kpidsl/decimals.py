"""Exact decimal text for fractions, in one place: 1/4 -> "0.25"; a fraction with no finite decimal stays "n/d"."""

from __future__ import annotations

from fractions import Fraction


def exact_places(value: Fraction) -> int | None:
    """How many decimal places write `value` exactly; None when no finite decimal does (1/3)."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    return max(twos, fives) if den == 1 else None


def decimal_text(value: Fraction, max_places: int | None = None) -> str:
    """The shortest exact decimal for `value`, or `numerator/denominator` when none exists (or when it would
    need more than `max_places` places)."""
    places = exact_places(value)
    if places is None or (max_places is not None and places > max_places):
        return f"{value.numerator}/{value.denominator}"
    digits = str(abs(value.numerator) * 10 ** places // value.denominator)
    if places:
        digits = digits.rjust(places + 1, "0")
        digits = f"{digits[:-places]}.{digits[-places:]}"
    return ("-" if value < 0 else "") + digits
