"""Exact point budgets down a score's tree, and how points are shown (23.33; 70/3 when it does not end)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from kpidsl.semantic.tree import item_budget, score_total
from kpidsl.syntax import nodes as n


@dataclass(frozen=True)
class Placed:
    """An item of a score with where it sits and the points it holds (None when they cannot be worked out)."""

    node: n.Criterion | n.Group | n.Adjustment
    parent: tuple[str, ...]        # the groups above it, outermost first (empty: directly in the score)
    points: Fraction | None


def placed_items(score: n.Score) -> list[Placed]:
    """Every criterion, group, bonus and penalty of a score, parents before children, in written order.

    A criterion or group holds its share of its parent's budget; a bonus or penalty holds its `at most`.
    """
    out: list[Placed] = []
    stack: list[tuple[n.Score | n.Group, tuple[str, ...], Fraction | None]] = [(score, (), score_total(score))]
    while stack:
        block, path, budget = stack.pop(0)
        for item in block.items:
            if isinstance(item, (n.Criterion, n.Group)):
                points = item_budget(item, budget)
                out.append(Placed(item, path, points))
                if isinstance(item, n.Group):
                    stack.append((item, path + (item.name,), points))
            elif isinstance(item, n.Adjustment):
                out.append(Placed(item, path, item.limit.value if item.limit is not None else None))
    return out


def terminates(value: Fraction) -> bool:
    """Whether the number has a finite decimal form (its denominator has no prime but 2 and 5)."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def fixed(value: Fraction, places: int = 2) -> str:
    """The number rounded half up to `places` decimals: 70/3 -> 23.33."""
    with localcontext() as ctx:
        ctx.prec = 80
        exact_value = Decimal(value.numerator) / Decimal(value.denominator)
        return format(exact_value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def signed(value: Fraction, places: int = 2) -> str:
    """A change in points: +4.67, −2.33 (a true minus sign), 0.00."""
    text = fixed(abs(value), places)
    if value > 0:
        return "+" + text
    if value < 0:
        return "\u2212" + text
    return text


def exact(value: Fraction) -> str:
    """The exact number: a decimal when it ends (28, 0.25), else a fraction (70/3)."""
    if value.denominator == 1:
        return str(value.numerator)
    if not terminates(value):
        return f"{value.numerator}/{value.denominator}"
    places = 0
    while (value * 10 ** places).denominator != 1:
        places += 1
    return fixed(value, places)
