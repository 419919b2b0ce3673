"""Checker pass: every scale is well formed — linear points, bands as exact intervals, targets, levels, pass/fail."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.tree import number, walk
from kpidsl.syntax import nodes as n


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    for what, body in _scales(program):
        if isinstance(body, n.Linear):
            _check_linear(what, body, found)
        elif isinstance(body, n.Bands):
            _check_bands(body, found)
        elif isinstance(body, n.Target):
            _check_target(body, found)
        elif isinstance(body, n.Levels):
            _check_levels(what, body, found)
        elif isinstance(body, n.PassFail):
            _check_pass_fail(body, found)
    return found


def _scales(program: Program) -> Iterator[tuple[str, n.ScaleBody]]:
    """Named scales and the inline scales of criteria, each with how a message names it."""
    for scale in program.scales.values():
        yield f"scale `{scale.name}`", scale.body
    for score in program.scores.values():
        for placed in walk(score):
            node = placed.node
            if isinstance(node, n.Criterion) and node.scale is not None and not isinstance(node.scale, str):
                yield f"the scale of criterion `{node.name}`", node.scale


def output(num: n.Num) -> Fraction:
    """A number in an output position: credit on the 0-100 scale, where 100% means 100."""
    return num.value * 100 if num.unit == "percent" else num.value


def _text(num: n.Num) -> str:
    return num.text or number(num.value)


# ---------------------------------------------------------------- linear, target, levels, pass/fail

def _check_linear(what: str, body: n.Linear, found: list[Diagnostic]) -> None:
    points = body.points
    if len(points) < 2:
        found.append(Diagnostic(
            "KPI055", f"a linear scale needs at least 2 points; {what} has {len(points)}", body.span,
            help="give the points the line passes through, e.g. `linear 0 -> 0, 1 -> 100`"))
        return
    for prev, cur in zip(points, points[1:]):
        if cur.x.value <= prev.x.value:
            message = (f"x value {_text(cur.x)} appears twice in {what}" if cur.x.value == prev.x.value
                       else f"x values of {what} must increase: {_text(cur.x)} comes after {_text(prev.x)}")
            found.append(Diagnostic("KPI054", message, cur.x.span,
                                    help="list the points from the lowest value to the highest, each value once"))
            return
    direction = 0
    for prev, cur in zip(points, points[1:]):
        step = (output(cur.y) > output(prev.y)) - (output(cur.y) < output(prev.y))
        if step and direction and step != direction:
            turn = ("up to", "down to") if direction > 0 else ("down to", "up to")
            found.append(Diagnostic(
                "KPI054",
                f"{what} goes {turn[0]} {_text(prev.y)} at {_text(prev.x)} and then {turn[1]} {_text(cur.y)} "
                f"at {_text(cur.x)}; a linear scale must only go up or only go down",
                cur.span,
                help="make the outputs never decrease (higher is better) or never increase (lower is better); "
                     "use `bands` for anything else"))
            return
        direction = direction or step
    if body.cap is not None:
        top = max(output(p.y) for p in points)
        _check_cap(body.cap, top, f"the scale's highest point {number(top)}", "or lower the scale's points", found)


def _check_cap(cap: n.Num, floor: Fraction, floor_words: str, other_fix: str, found: list[Diagnostic]) -> None:
    value = output(cap)
    if value < 0:
        found.append(Diagnostic("KPI055", f"cap {_text(cap)} is negative", cap.span,
                                help="a cap limits the credit for over-achievement, e.g. `cap 120`"))
    elif value < floor:
        found.append(Diagnostic("KPI055", f"cap {_text(cap)} is below {floor_words}", cap.span,
                                help="a cap limits the credit for over-achievement: make it at least "
                                     f"{number(floor)}, {other_fix}"))


def _check_target(body: n.Target, found: list[Diagnostic]) -> None:
    target = body.target
    if isinstance(target, n.Num) and target.value <= 0:
        reason = "every value would divide by zero" if target.value == 0 else "a target must be above 0"
        found.append(Diagnostic("KPI055", f"target {_text(target)} is not a usable target: {reason}", target.span,
                                help="give the amount that earns 100, e.g. `target 12`"))
    if body.cap is not None:
        _check_cap(body.cap, Fraction(100), "100, the credit for meeting the target", "or remove it", found)


def _check_levels(what: str, body: n.Levels, found: list[Diagnostic]) -> None:
    seen: dict[str, n.LevelPoint] = {}
    for level in body.levels:
        first = seen.get(level.level)
        if first is not None:
            found.append(Diagnostic(
                "KPI055", f"level `{level.level}` is listed twice in {what}", level.span,
                notes=(f"first listed at line {first.span.line}",),
                help="give each level its points once"))
        else:
            seen[level.level] = level
    if len(seen) < 2:
        found.append(Diagnostic("KPI055", f"{what} has only one level", body.span,
                                help="list the points of every level the value can take"))


def _check_pass_fail(body: n.PassFail, found: list[Diagnostic]) -> None:
    passed, failed = output(body.passed), output(body.failed)
    if passed == failed:
        message = f"pass and fail both give {_text(body.passed)}; the scale cannot tell them apart"
    elif passed < failed:
        message = f"pass gives {_text(body.passed)} but fail gives more, {_text(body.failed)}"
    else:
        return
    found.append(Diagnostic("KPI055", message, body.span, help="passing should earn more than failing, e.g. "
                                                               "`pass 100 fail 0`"))


# ---------------------------------------------------------------- bands as intervals

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
class _Band:
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


def _edges(band: n.Band, found: list[Diagnostic]) -> _Band | None:
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
    return _Band(band, low, high)


def _check_bands(body: n.Bands, found: list[Diagnostic]) -> None:
    parsed: list[_Band] = []
    for band in body.bands:
        edges = _edges(band, found)
        if edges is None:
            return
        parsed.append(edges)
    else_at = next((i for i, b in enumerate(parsed) if b.node.is_else), len(parsed))
    for late in parsed[else_at + 1:]:
        what = "a second `else`" if late.node.is_else else "this band"
        found.append(Diagnostic("KPI053", f"{what} comes after `else` and is never used", late.node.span,
                                help="`else` catches every value left over, so it must be the last band"))
    active = parsed[:else_at]
    if _mixed_directions(active, found):
        return
    kept = _intervals(active, found)
    if kept is None:
        return
    _report_overlaps(kept, found)
    gaps = _gaps(kept)
    has_else = else_at < len(parsed)
    for gap, before, after in gaps:
        outer = before is None or after is None
        if outer and has_else:
            continue  # what lies beyond the outermost bands is what `else` is for
        at = max((b for b in (before, after) if b is not None), key=lambda b: b.span.start, default=body)
        if outer:
            help = "add `else -> 0` as the last band, or extend the outermost band to cover them"
        else:
            help = "move a threshold so the bands meet, or add a band for these values"
        found.append(Diagnostic("KPI051", f"{gap.words()} match no band", at.span, help=help))


def _mixed_directions(active: list[_Band], found: list[Diagnostic]) -> bool:
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


def _intervals(active: list[_Band], found: list[Diagnostic]) -> list[tuple[n.Band, Interval]] | None:
    """Each band's interval: a one-sided band ends (or starts) where the band before it began (or ended).

    None when the bands are out of order, because then the implied intervals mean nothing.
    """
    kept: list[tuple[n.Band, Interval]] = []
    prev: _Band | None = None
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


def _out_of_order(band: _Band, prev: _Band, op: str, way: str, found: list[Diagnostic]) -> None:
    mine = band.low if op == ">=" else band.high
    theirs = prev.low if op == ">=" else prev.high
    found.append(Diagnostic(
        "KPI052", f"bands out of order: threshold {mine.text} comes after {theirs.text}, but in a list of "
                  f"`{op}` bands the thresholds must {way}", band.node.span,
        help="bands are read top to bottom and each one ends where the one above it starts; "
             f"order them so the thresholds {way}"))


def _unreachable(band: _Band, prev: _Band | None) -> Diagnostic:
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


def _report_overlaps(kept: list[tuple[n.Band, Interval]], found: list[Diagnostic]) -> None:
    for j, (band, interval) in enumerate(kept):
        for other, earlier in kept[:j]:
            shared = _intersection(interval, earlier)
            if not shared.empty:
                found.append(Diagnostic(
                    "KPI050", f"this band overlaps `{_source(other)}`: {shared.words()} match both", band.span,
                    help="make the bands meet without sharing values, e.g. `>= 0.5 < 0.8` then `>= 0.8`"))
                break


def _gaps(kept: list[tuple[n.Band, Interval]]) -> list[tuple[Interval, n.Band | None, n.Band | None]]:
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
