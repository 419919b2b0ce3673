"""Exact decimal arithmetic in SQL: values are DECIMAL(38,12), division and rounding go through HUGEINT.

DuckDB turns DECIMAL / DECIMAL into DOUBLE, so no `/` on decimals is ever written.
A quotient is computed on scaled integers instead: for N / D rounded to `s` places,
q = |N| // |D| and r = |N| % |D| give the whole part, (r * 10^s) // |D| the digits,
and the remainder decides the last digit by the rounding mode. Every function here
returns SQL text over operands that must be *simple* (a column or a parameter),
because the text repeats them; the compiler lifts anything else into a column first.

Rounding modes follow Python's `decimal`: half_up rounds a tie away from zero,
half_even to the even digit, down toward zero, up away from zero.
"""

from __future__ import annotations

SCALE = 12
"""Decimal places of every intermediate value."""

DEC = f"DECIMAL(38,{SCALE})"
ONE_E12 = "CAST(1000000000000 AS HUGEINT)"
MODES = ("half_up", "half_even", "down", "up")


def dec(sql: str) -> str:
    """A value as DECIMAL(38,12) (exact for integers and for decimals of up to 12 places)."""
    return f"CAST({sql} AS {DEC})"


def scaled(a: str) -> str:
    """The HUGEINT a * 10^12 of a decimal of at most 12 places, exactly.

    Below 10^14 one multiplication and one cast do it; above, the whole and the
    fractional parts are taken apart so nothing overflows.
    """
    return (f"(CASE WHEN abs({a}) < 100000000000000 THEN CAST({a} * 1000000000000 AS HUGEINT) "
            f"ELSE CAST(trunc({a}) AS HUGEINT) * {ONE_E12} "
            f"+ CAST(({a} - trunc({a})) * 1000000000000 AS HUGEINT) END)")


def _bump(mode: str, rest: str, den: str, last: str) -> str:
    """1 when the dropped part (rest / den, 0 <= rest < den) moves the kept last digit `last` up."""
    if mode == "down":
        return "0"
    if mode == "up":
        return f"(CASE WHEN {rest} > 0 THEN 1 ELSE 0 END)"
    if mode == "half_up":
        return f"(CASE WHEN 2 * {rest} >= {den} THEN 1 ELSE 0 END)"
    if mode == "half_even":
        return (f"(CASE WHEN 2 * {rest} > {den} OR (2 * {rest} = {den} AND {last} % 2 = 1) "
                f"THEN 1 ELSE 0 END)")
    raise ValueError(f"unknown rounding mode {mode!r}")


def ratio_scaled(num: str, den: str, places: int, pow10: str, mode: str) -> str:
    """round(num / den, places) as a HUGEINT scaled by 10^places; NULL when den is 0.

    `num` and `den` are simple HUGEINT expressions; `pow10` is 10^places as SQL.
    The digits are found as (r * 10^places) // |den|, exact while |den| * 10^places fits a HUGEINT.
    """
    an, ad = f"abs({num})", f"abs({den})"
    whole = f"({an} // {ad})"
    rest = f"(({an} % {ad}) * {pow10})"
    digits = f"({rest} // {ad})"
    dropped = f"({rest} % {ad})"
    if places == 0:
        kept, last, dropped = whole, whole, f"({an} % {ad})"
    else:
        kept, last = f"({whole} * {pow10} + {digits})", digits
    magnitude = f"({kept} + {_bump(mode, dropped, ad, last)})"
    sign = f"(CASE WHEN ({num} < 0) <> ({den} < 0) THEN -1 ELSE 1 END)"
    return f"(CASE WHEN {den} = 0 THEN NULL ELSE {sign} * {magnitude} END)"


def ratio_fast(num: str, den: str, places: int, pow10: str, mode: str, limit: str) -> str:
    """ratio_scaled with one HUGEINT division when the operands are small enough (nearly always).

    half_up: (2|n|p + |d|) // 2|d|; down: |n|p // |d|; up: (|n|p + |d| - 1) // |d|.
    """
    an, ad = f"abs({num})", f"abs({den})"
    if mode == "half_up":
        fast = f"((2 * {an} * {pow10} + {ad}) // (2 * {ad}))"
    elif mode == "down":
        fast = f"(({an} * {pow10}) // {ad})"
    elif mode == "up":
        fast = f"(({an} * {pow10} + {ad} - 1) // {ad})"
    else:
        return ratio_scaled(num, den, places, pow10, mode)
    sign = f"(CASE WHEN ({num} < 0) <> ({den} < 0) THEN -1 ELSE 1 END)"
    slow = ratio_scaled(num, den, places, pow10, mode)
    return (f"(CASE WHEN {den} = 0 THEN NULL WHEN {an} < {limit} AND {ad} < {limit} THEN {sign} * {fast} "
            f"ELSE {slow} END)")


def from_scaled(r: str, places: int, unit: str) -> str:
    """A HUGEINT scaled by 10^places back to DECIMAL(38,12); `unit` is 10^-places as DECIMAL(38,places) SQL."""
    if places == 0:
        return dec(r)
    return dec(f"CAST({r} AS DECIMAL(38,0)) * {unit}")


def decimal_type(places: int) -> str:
    return f"DECIMAL(38,{places})"


def round_fraction(value, places: int, mode: str):
    """A Fraction rounded to `places` decimals by `mode`, as a Fraction (the Python twin of ratio_scaled)."""
    from fractions import Fraction

    scaled = Fraction(value) * 10 ** places
    whole, rest = divmod(abs(scaled.numerator), scaled.denominator)
    den = scaled.denominator
    if mode == "up":
        whole += rest > 0
    elif mode == "half_up":
        whole += 2 * rest >= den
    elif mode == "half_even":
        whole += 2 * rest > den or (2 * rest == den and whole % 2 == 1)
    elif mode != "down":
        raise ValueError(f"unknown rounding mode {mode!r}")
    return Fraction(-whole if scaled < 0 else whole, 10 ** places)
