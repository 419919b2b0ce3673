"""Scales to SQL: a criterion's value -> its credit on the 0-100 scale, exactly; missing stays missing."""

from __future__ import annotations

from fractions import Fraction
from typing import assert_never

from kpidsl.compile.expressions import ExprCompiler
from kpidsl.compile.frame import CompileError, Scope
from kpidsl.compile.values import V, _deps
from kpidsl.semantic.bands import Interval, band_edges, band_intervals, output
from kpidsl.syntax import nodes as n


def scale_name(body: n.ScaleBody) -> str:
    match body:
        case n.Linear():
            return "linear"
        case n.Bands():
            return "bands"
        case n.Target():
            return "target"
        case n.Levels():
            return "levels"
        case n.PassFail():
            return "pass/fail"
        case _:
            assert_never(body)


def credit(ec: ExprCompiler, s: Scope, body: n.ScaleBody | None, value: V) -> V:
    """The credit a scale gives `value`; without a scale, the value itself."""
    match body:
        case None:
            if value.kind not in ("int", "dec", "null"):
                raise CompileError("a criterion without a scale needs a number")
            return ec.as_dec(value)
        case n.Linear():
            return _linear(ec, s, body, value)
        case n.Bands():
            return _bands(ec, s, body, value)
        case n.Target():
            return _target(ec, s, body, value)
        case n.Levels():
            v = ec.lift(s.rel, value)
            cases = " ".join(f"WHEN {ec.param(s.rel, lp.level, 'text').sql} THEN "
                             f"{ec.as_dec(_out(ec, s, lp.points)).sql}" for lp in body.levels)
            return V(f"(CASE {v.sql} {cases} END)", "dec", v.deps)
        case n.PassFail():
            v = ec.lift(s.rel, value)
            passed, failed = ec.as_dec(_out(ec, s, body.passed)), ec.as_dec(_out(ec, s, body.failed))
            return V(f"(CASE WHEN {v.sql} THEN {passed.sql} WHEN NOT {v.sql} THEN {failed.sql} END)", "dec", v.deps)
        case _:
            assert_never(body)


def _out(ec: ExprCompiler, s: Scope, num: n.Num) -> V:
    return ec.number(s.rel, output(num))


def _capped(ec: ExprCompiler, s: Scope, v: V, cap: n.Num | None) -> V:
    if cap is None:
        return v
    v = ec.lift(s.rel, v, "c")
    top = ec.as_dec(_out(ec, s, cap))
    return V(f"(CASE WHEN {v.sql} > {top.sql} THEN {top.sql} ELSE {v.sql} END)", "dec", v.deps)


def _linear(ec: ExprCompiler, s: Scope, body: n.Linear, value: V) -> V:
    v = ec.lift(s.rel, ec.as_dec(value))
    pts = [(p.x.value, output(p.y)) for p in body.points]
    segments = []
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        slope = Fraction(y1 - y0) / Fraction(x1 - x0)
        offset = ec.add(v, ec.as_dec(ec.number(s.rel, x0)), "-")
        rise = ec.multiply(offset, ec.number(s.rel, Fraction(slope.numerator)))
        if slope.denominator != 1:
            rise = ec.divide(s.rel, rise, ec.number(s.rel, Fraction(slope.denominator)))
        segments.append(ec.add(ec.as_dec(ec.number(s.rel, y0)), rise, "+"))
    whens = []
    if body.clamp:
        whens.append(f"WHEN {v.sql} <= {ec.as_dec(ec.number(s.rel, pts[0][0])).sql} "
                     f"THEN {ec.as_dec(ec.number(s.rel, pts[0][1])).sql}")
        whens.append(f"WHEN {v.sql} >= {ec.as_dec(ec.number(s.rel, pts[-1][0])).sql} "
                     f"THEN {ec.as_dec(ec.number(s.rel, pts[-1][1])).sql}")
    for (x1, _), seg in zip(pts[1:-1], segments):
        whens.append(f"WHEN {v.sql} <= {ec.as_dec(ec.number(s.rel, x1)).sql} THEN {seg.sql}")
    sql = f"(CASE WHEN {v.sql} IS NULL THEN NULL {' '.join(whens)} ELSE {segments[-1].sql} END)"
    return _capped(ec, s, V(sql, "dec", _deps([v, *segments])), body.cap)


def _bands(ec: ExprCompiler, s: Scope, body: n.Bands, value: V) -> V:
    v = ec.lift(s.rel, ec.as_dec(value))
    found: list = []
    parsed = []
    fallback = None
    for band in body.bands:
        if band.is_else:
            fallback = band
            break
        edges = band_edges(band, found)
        if edges is None:
            raise CompileError("a band of this scale is not well formed", band.span)
        parsed.append(edges)
    kept = band_intervals(parsed, found)
    if kept is None:
        raise CompileError("the bands of this scale are out of order", body.span)
    whens = []
    for band, interval in kept:
        whens.append(f"WHEN {_inside(ec, s, v, interval)} THEN {ec.as_dec(_out(ec, s, band.points)).sql}")
    other = ec.as_dec(_out(ec, s, fallback.points)).sql if fallback is not None else "NULL"
    return V(f"(CASE WHEN {v.sql} IS NULL THEN NULL {' '.join(whens)} ELSE {other} END)", "dec", v.deps)


def _inside(ec: ExprCompiler, s: Scope, v: V, interval: Interval) -> str:
    tests = []
    if interval.low is not None:
        op = ">=" if interval.low.closed else ">"
        tests.append(f"{v.sql} {op} {ec.as_dec(ec.number(s.rel, interval.low.value)).sql}")
    if interval.high is not None:
        op = "<=" if interval.high.closed else "<"
        tests.append(f"{v.sql} {op} {ec.as_dec(ec.number(s.rel, interval.high.value)).sql}")
    return " AND ".join(tests) or "TRUE"


def _target(ec: ExprCompiler, s: Scope, body: n.Target, value: V) -> V:
    target = body.target
    t = ec.number(s.rel, target.value) if isinstance(target, n.Num) else ec.expr(target, s)
    if t.kind not in ("int", "dec"):
        raise CompileError("a target must be a number", target.span)
    hundred = ec.number(s.rel, Fraction(100))
    ratio = ec.divide(s.rel, ec.multiply(ec.as_dec(value), hundred), t)
    return _capped(ec, s, ratio, body.cap)
