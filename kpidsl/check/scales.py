"""Checker pass: every scale is well formed — linear points, bands as exact intervals, targets, levels, pass/fail."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.bands import (  # noqa: F401 - Interval, _edges, _intervals: for versions/scales.py
    Band,
    Interval,
    band_edges,
    band_intervals,
    gaps,
    mixed_directions,
    output,
    report_overlaps,
)
from kpidsl.semantic.bands import band_edges as _edges  # noqa: F401
from kpidsl.semantic.bands import band_intervals as _intervals  # noqa: F401
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


# ---------------------------------------------------------------- bands

def _check_bands(body: n.Bands, found: list[Diagnostic]) -> None:
    parsed: list[Band] = []
    for band in body.bands:
        edges = band_edges(band, found)
        if edges is None:
            return
        parsed.append(edges)
    else_at = next((i for i, b in enumerate(parsed) if b.node.is_else), len(parsed))
    for late in parsed[else_at + 1:]:
        what = "a second `else`" if late.node.is_else else "this band"
        found.append(Diagnostic("KPI053", f"{what} comes after `else` and is never used", late.node.span,
                                help="`else` catches every value left over, so it must be the last band"))
    active = parsed[:else_at]
    if mixed_directions(active, found):
        return
    kept = band_intervals(active, found)
    if kept is None:
        return
    report_overlaps(kept, found)
    found_gaps = gaps(kept)
    has_else = else_at < len(parsed)
    for gap, before, after in found_gaps:
        outer = before is None or after is None
        if outer and has_else:
            continue  # what lies beyond the outermost bands is what `else` is for
        at = max((b for b in (before, after) if b is not None), key=lambda b: b.span.start, default=body)
        if outer:
            help = "add `else -> 0` as the last band, or extend the outermost band to cover them"
        else:
            help = "move a threshold so the bands meet, or add a band for these values"
        found.append(Diagnostic("KPI051", f"{gap.words()} match no band", at.span, help=help))
