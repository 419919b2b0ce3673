"""Scales compared as functions from a value to its credit: the value ranges whose credit changed, exactly.

Bands and linear scales are read the way the engine reads them (bands as the
checker's exact intervals, compile/scales.py's linear segments, clamp and cap),
so two scales written differently that give every value the same credit are
equal. Between two breakpoints of either scale both are constant (bands) or
linear, so comparing them at every breakpoint, between each two, and beyond the
ends is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kpidsl.check.scales import Interval, _edges, _intervals, output
from kpidsl.syntax import nodes as n
from kpidsl.versions.points import exact as plain

Credit = Fraction | None  # None: the scale gives no credit (a value no band covers)


class Function:
    """A scale's meaning: what it gives each value."""

    kind = "scale"

    def same(self, other: Function) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


# ---------------------------------------------------------------- numeric scales: bands and linear

class Numeric(Function):
    """A scale of a number: credit(x) for every x, with the x where its formula changes."""

    def credit(self, x: Fraction) -> Credit:
        raise NotImplementedError

    def breakpoints(self) -> list[Fraction]:
        raise NotImplementedError

    def same(self, other: Function) -> bool:
        return isinstance(other, Numeric) and not numeric_differences(self, other)


@dataclass(frozen=True, eq=False)
class Bands(Numeric):
    """Each band's interval (the checker's reading: a one-sided band ends where the one above begins)."""

    pieces: tuple[tuple[Interval, Fraction], ...]
    otherwise: Credit
    text: str

    kind = "bands"

    def credit(self, x: Fraction) -> Credit:
        for interval, value in self.pieces:
            if _inside(interval, x):
                return value
        return self.otherwise

    def breakpoints(self) -> list[Fraction]:
        return [e.value for interval, _ in self.pieces for e in (interval.low, interval.high) if e is not None]

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Linear(Numeric):
    points: tuple[tuple[Fraction, Fraction], ...]
    clamp: bool
    cap: Fraction | None
    text: str

    kind = "linear"

    def credit(self, x: Fraction) -> Credit:
        pts = self.points
        if self.clamp and x <= pts[0][0]:
            value = pts[0][1]
        elif self.clamp and x >= pts[-1][0]:
            value = pts[-1][1]
        else:
            # As the engine: the segment whose right end is the first at or above x; the last one beyond.
            i = next((k for k in range(1, len(pts) - 1) if x <= pts[k][0]), len(pts) - 1)
            (x0, y0), (x1, y1) = pts[i - 1], pts[i]
            value = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return min(value, self.cap) if self.cap is not None else value

    def breakpoints(self) -> list[Fraction]:
        xs = [x for x, _ in self.points]
        if self.cap is not None:
            # Where the line meets the cap the formula changes; without clamp the end segments run on.
            last = len(self.points) - 2
            for i, ((x0, y0), (x1, y1)) in enumerate(zip(self.points, self.points[1:])):
                if y1 == y0:
                    continue
                meet = x0 + (self.cap - y0) * (x1 - x0) / (y1 - y0)
                if x0 <= meet <= x1 or not self.clamp and (i == 0 and meet < x0 or i == last and meet > x1):
                    xs.append(meet)
        return xs

    def describe(self) -> str:
        return self.text


def numeric_differences(old: Numeric, new: Numeric) -> list[tuple[str, Fraction | None, Credit, Credit]]:
    """The values whose credit differs: (which values, a sample value or None, old credit, new credit).

    Two sets of bands: one row per interval of values with the same pair of credits (`[0.9, 0.95)`).
    Where a side is linear: a row per breakpoint whose credits differ (`at 0.9`), and a row with a
    sample value for a stretch that differs but is not implied by its ends (beyond the last breakpoint,
    or where bands meet a line).
    """
    cuts = sorted(set(old.breakpoints()) | set(new.breakpoints())) or [Fraction(0)]
    # Elementary pieces (low, high, probe): each cut itself, the open stretch between two, and beyond both ends.
    pieces: list[tuple[Fraction | None, Fraction | None, Fraction]] = [(None, cuts[0], cuts[0] - 1)]
    for low, high in zip(cuts, cuts[1:]):
        pieces += [(low, low, low), (low, high, (low + high) / 2)]
    pieces += [(cuts[-1], cuts[-1], cuts[-1]), (cuts[-1], None, cuts[-1] + 1)]
    if not isinstance(old, Linear) and not isinstance(new, Linear):
        return _band_rows(old, new, pieces)
    both_lines = isinstance(old, Linear) and isinstance(new, Linear)
    out: list[tuple[str, Fraction | None, Credit, Credit]] = []
    for low, high, probe in pieces:
        if low is not None and low == high:
            if old.credit(probe) != new.credit(probe):
                out.append((f"at {plain(probe)}", probe, old.credit(probe), new.credit(probe)))
            continue
        if both_lines and low is not None and high is not None:
            continue  # two lines between two cuts: equal at both ends means equal throughout
        for sample in _probes(low, high, probe):
            if old.credit(sample) != new.credit(sample):
                out.append((_interval(low, False, high, False), sample, old.credit(sample), new.credit(sample)))
                break
    return out


def _band_rows(old: Numeric, new: Numeric, pieces: list) -> list[tuple[str, Fraction | None, Credit, Credit]]:
    """Neighbouring pieces with the same (old, new) credits merged into one interval each."""
    runs: list[list] = []  # [low, low closed, high, high closed, old, new]
    for low, high, probe in pieces:
        point = low is not None and low == high
        pair = (old.credit(probe), new.credit(probe))
        if runs and tuple(runs[-1][4:]) == pair:
            runs[-1][2], runs[-1][3] = high, point
        else:
            runs.append([low, point, high, point, *pair])
    return [(_interval(lo, lc, hi, hc), None, a, b) for lo, lc, hi, hc, a, b in runs if a != b]


def _probes(low: Fraction | None, high: Fraction | None, middle: Fraction) -> list[Fraction]:
    if low is None:
        return [middle, middle - 1]
    if high is None:
        return [middle, middle + 1]
    return [middle, (low + middle) / 2]


def _inside(interval: Interval, x: Fraction) -> bool:
    low, high = interval.low, interval.high
    if low is not None and (x < low.value or x == low.value and not low.closed):
        return False
    return not (high is not None and (x > high.value or x == high.value and not high.closed))


def _interval(low: Fraction | None, low_closed: bool, high: Fraction | None, high_closed: bool) -> str:
    """`[0.9, 0.95)`, `(−∞, 0.6)`, `[0.95, ∞)`; one value as `{1}`."""
    if low is not None and low == high:
        return f"{{{plain(low)}}}"
    left = "(−∞" if low is None else ("[" if low_closed else "(") + plain(low)
    right = "∞)" if high is None else plain(high) + ("]" if high_closed else ")")
    return f"{left}, {right}"


# ---------------------------------------------------------------- scales of a kind of value

@dataclass(frozen=True, eq=False)
class Levels(Function):
    credits: tuple[tuple[str, Fraction], ...]
    text: str

    kind = "levels"

    def same(self, other: Function) -> bool:
        return isinstance(other, Levels) and dict(self.credits) == dict(other.credits)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class PassFail(Function):
    passed: Fraction
    failed: Fraction
    text: str

    kind = "pass/fail"

    def same(self, other: Function) -> bool:
        return isinstance(other, PassFail) and (self.passed, self.failed) == (other.passed, other.failed)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Target(Function):
    """Percent of a target, which may be read from data (then only the same name is the same target)."""

    target: tuple
    cap: Fraction | None
    text: str

    kind = "target"

    def same(self, other: Function) -> bool:
        return isinstance(other, Target) and (self.target, self.cap) == (other.target, other.cap)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Unscaled(Function):
    """No scale: the value itself is the credit."""

    text: str = "no scale (the value is the credit)"
    kind = "none"

    def same(self, other: Function) -> bool:
        return isinstance(other, Unscaled)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Unreadable(Function):
    """A scale whose bands the checker cannot order: equal only to the same text."""

    text: str
    kind = "invalid"

    def same(self, other: Function) -> bool:
        return isinstance(other, Unreadable) and self.text == other.text

    def describe(self) -> str:
        return self.text


def function_of(body: n.Node | None) -> Function:
    """The function a scale body stands for."""
    if body is None:
        return Unscaled()
    text = _source(body)
    if isinstance(body, n.Linear):
        if len(body.points) < 2 or any(b.x.value <= a.x.value for a, b in zip(body.points, body.points[1:])):
            return Unreadable(text)
        return Linear(tuple((p.x.value, output(p.y)) for p in body.points), body.clamp,
                      output(body.cap) if body.cap is not None else None, text)
    if isinstance(body, n.Bands):
        return _bands(body, text)
    if isinstance(body, n.Levels):
        return Levels(tuple((lp.level, output(lp.points)) for lp in body.levels), text)
    if isinstance(body, n.PassFail):
        return PassFail(output(body.passed), output(body.failed), text)
    if isinstance(body, n.Target):
        target = body.target
        key = ("number", target.value) if isinstance(target, n.Num) else ("name", target.parts)
        return Target(key, output(body.cap) if body.cap is not None else None, text)
    return Unreadable(text)


def _bands(body: n.Bands, text: str) -> Function:
    found: list = []
    parsed = []
    otherwise: Credit = None
    for band in body.bands:
        if band.is_else:
            otherwise = output(band.points)
            break
        edges = _edges(band, found)
        if edges is None:
            return Unreadable(text)
        parsed.append(edges)
    kept = _intervals(parsed, found)
    if kept is None:
        return Unreadable(text)
    return Bands(tuple((interval, output(band.points)) for band, interval in kept), otherwise, text)


def _source(node: n.Node) -> str:
    span = node.span
    return " ".join(span.source.text[span.start:span.end].split())


def differences(old: Function, new: Function) -> list[tuple[str, Fraction | None, Credit, Credit]]:
    """What changed, as (what, a value or None, old credit, new credit); empty when the functions are equal.

    Scales of different kinds (levels and bands, say) have no common values: one row says so.
    """
    if isinstance(old, Numeric) and isinstance(new, Numeric):
        return numeric_differences(old, new)
    if isinstance(old, Levels) and isinstance(new, Levels):
        before, after = dict(old.credits), dict(new.credits)
        return [(f"level {name}", None, before.get(name), after.get(name))
                for name in [*before, *(k for k in after if k not in before)] if before.get(name) != after.get(name)]
    if isinstance(old, PassFail) and isinstance(new, PassFail):
        return [(what, None, a, b) for what, a, b in (("pass", old.passed, new.passed),
                                                       ("fail", old.failed, new.failed)) if a != b]
    if old.same(new):
        return []
    return [(f"{old.kind} → {new.kind}", None, None, None)]
