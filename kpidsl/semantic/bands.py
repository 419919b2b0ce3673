"""Bands as exact intervals: each band of a `bands` scale as the interval of values it takes, their overlaps and gaps.

The scales pass reports what is wrong with them (KPI050-KPI053); the compiler turns
the intervals into SQL; `kpidsl diff` compares two versions' intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.tree import number
from kpidsl.syntax import nodes as n


def _text(num: n.Num) -> str:
    return num.text or number(num.value)


def output(num: n.Num) -> Fraction:
    """A number in an output position: credit on the 0-100 scale, where 100% means 100."""
    return num.value * 100 if num.unit == "percent" else num.value


@dataclass(frozen=True)
class Edge:
    """One end of an interval: a value, whether the value itself belongs, and how it was written."""

    value: Fraction
    closed: bool
    text: str

    def flipped(self) -> Edge:
        """The other side of the same cut: `>= 1` ends the band below at `< 1`."""
        return Edge(self.value, not self.closed, self.text)


@dataclass(frozen=True)
class Interval:
    low: Edge | None   # None: no lower end
    high: Edge | None  # None: no upper end

    @property
    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        if self.low.value != self.high.value:
            return self.low.value > self.high.value
        return not (self.low.closed and self.high.closed)

    def words(self) -> str:
        low, high = self.low, self.high
        if low is None and high is None:
            return "every value"
        if low is None:
            return f"values of {high.text} and below" if high.closed else f"values below {high.text}"
        if high is None:
            return f"values of {low.text} and above" if low.closed else f"values above {low.text}"
        if low.value == high.value:
            return f"the value {low.text}"
        if low.closed:
            return f"values from {low.text} " + (f"to {high.text} inclusive" if high.closed else f"up to {high.text}")
        return f"values above {low.text} " + (f"up to and including {high.text}" if high.closed
                                               else f"and below {high.text}")


def _low_key(edge: Edge | None) -> tuple:
    # A closed lower end starts before an open one at the same value.
    return (0,) if edge is None else (1, edge.value, 0 if edge.closed else 1)


def _high_key(edge: Edge | None) -> tuple:
    # A closed upper end reaches past an open one at the same value.
    return (2,) if edge is None else (1, edge.value, 1 if edge.closed else 0)


def _intersection(a: Interval, b: Interval) -> Interval:
    low = max(a.low, b.low, key=_low_key)
    high = min(a.high, b.high, key=_high_key)
    return Interval(low, high)


@dataclass(frozen=True)
class Band:
    node: n.Band
    low: Edge | None
    high: Edge | None

    @property
    def direction(self) -> str:
        if self.node.is_else:
            return "else"
        if self.low is not None and self.high is not None:
            return "both"
        return "down" if self.low is not None else "up"


def band_edges(band: n.Band, found: list[Diagnostic]) -> Band | None:
    low = high = None
    for bound in band.bounds:
        edge = Edge(bound.value.value, bound.op in (">=", "<=", "="), _text(bound.value))
        if bound.op == "!=":
            found.append(Diagnostic("KPI055", "`!=` cannot bound a band", bound.span,
                                    help="bound a band with `>=`, `>`, `<=` or `<`"))
            return None
        sides = {">=": ("low",), ">": ("low",), "<=": ("high",), "<": ("high",), "=": ("low", "high")}[bound.op]
        for side in sides:
            if (low if side == "low" else high) is not None:
                found.append(Diagnostic(
                    "KPI055", f"this band has two {'lower' if side == 'low' else 'upper'} bounds", bound.span,
                    help="give a band at most one lower bound (`>=`/`>`) and one upper bound (`<=`/`<`)"))
                return None
            if side == "low":
                low = edge
            else:
                high = edge
    return Band(band, low, high)


def mixed_directions(active: list[Band], found: list[Diagnostic]) -> bool:
    first = next((b.direction for b in active if b.direction in ("down", "up")), None)
    for band in active:
        if band.direction in ("down", "up") and band.direction != first:
            found.append(Diagnostic(
                "KPI052", "bands mix directions: a list of `>=` bands cannot also have `<=` bands" if first == "down"
                else "bands mix directions: a list of `<=` bands cannot also have `>=` bands",
                band.node.span,
                help="list `>=` bands from the highest threshold down, or `<=` bands from the lowest up; "
                     "a band that fits neither gives both bounds, e.g. `>= 0.5 < 0.8 -> 50`"))
            return True
    return False


def band_intervals(active: list[Band], found: list[Diagnostic]) -> list[tuple[n.Band, Interval]] | None:
    """Each band's interval: a one-sided band ends (or starts) where the band before it began (or ended).

    None when the bands are out of order, because then the implied intervals mean nothing.
    """
    kept: list[tuple[n.Band, Interval]] = []
    prev: Band | None = None
    for band in active:
        low, high = band.low, band.high
        if band.direction == "down" and prev is not None and prev.low is not None:
            if band.low.value > prev.low.value:
                _out_of_order(band, prev, ">=", "go down", found)
                return None
            high = prev.low.flipped()
        elif band.direction == "up" and prev is not None and prev.high is not None:
            if band.high.value < prev.high.value:
                _out_of_order(band, prev, "<=", "go up", found)
                return None
            low = prev.high.flipped()
        interval = Interval(low, high)
        if interval.empty:
            # A band that matches nothing does not shape the bands after it.
            found.append(_unreachable(band, prev))
        else:
            kept.append((band.node, interval))
            prev = band
    return kept


def _out_of_order(band: Band, prev: Band, op: str, way: str, found: list[Diagnostic]) -> None:
    mine = band.low if op == ">=" else band.high
    theirs = prev.low if op == ">=" else prev.high
    found.append(Diagnostic(
        "KPI052", f"bands out of order: threshold {mine.text} comes after {theirs.text}, but in a list of "
                  f"`{op}` bands the thresholds must {way}", band.node.span,
        help="bands are read top to bottom and each one ends where the one above it starts; "
             f"order them so the thresholds {way}"))


def _unreachable(band: Band, prev: Band | None) -> Diagnostic:
    if band.direction == "both":
        return Diagnostic("KPI053", f"this band matches no value: {band.low.text} is not below {band.high.text}",
                          band.node.span, help="swap or fix the bounds")
    edge = band.low if band.direction == "down" else band.high
    above = f"`{_source(prev.node)}`" if prev is not None else "the band above it"
    return Diagnostic("KPI053", f"threshold {edge.text} repeats {above}; this band can never match",
                      band.node.span, help="give each band its own threshold, or remove this one")


def _source(node: n.Node) -> str:
    """A node as written, on one line."""
    return " ".join(node.span.source.text[node.span.start:node.span.end].split())


def report_overlaps(kept: list[tuple[n.Band, Interval]], found: list[Diagnostic]) -> None:
    for j, (band, interval) in enumerate(kept):
        for other, earlier in kept[:j]:
            shared = _intersection(interval, earlier)
            if not shared.empty:
                found.append(Diagnostic(
                    "KPI050", f"this band overlaps `{_source(other)}`: {shared.words()} match both", band.span,
                    help="make the bands meet without sharing values, e.g. `>= 0.5 < 0.8` then `>= 0.8`"))
                break


def gaps(kept: list[tuple[n.Band, Interval]]) -> list[tuple[Interval, n.Band | None, n.Band | None]]:
    """The stretches no band covers, each with the bands just below and above it (None at either end)."""
    if not kept:
        return [(Interval(None, None), None, None)]
    ordered = sorted(kept, key=lambda item: _low_key(item[1].low))
    gaps: list[tuple[Interval, n.Band | None, n.Band | None]] = []
    reach: Edge | None = None
    reach_band: n.Band | None = None
    started = False
    for band, interval in ordered:
        if not started:
            if interval.low is not None:
                gaps.append((Interval(None, interval.low.flipped()), None, band))
            started = True
        elif interval.low is not None:
            gap = Interval(reach.flipped(), interval.low.flipped())
            if not gap.empty:
                gaps.append((gap, reach_band, band))
        if _high_key(interval.high) > _high_key(reach) or reach_band is None:
            reach, reach_band = interval.high, band
        if reach is None:
            return gaps
    if reach_band is not None:
        gaps.append((Interval(reach.flipped(), None), reach_band, None))
    return gaps
