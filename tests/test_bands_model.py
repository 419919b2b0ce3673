"""The bands checks against a brute-force reading: every value tried around every threshold."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kpidsl.check import CheckContext, scales
from kpidsl.semantic.resolve import Loader, resolve

THRESHOLDS = ["0", "0.25", "0.5", "0.75", "1"]

lower = st.tuples(st.sampled_from([">=", ">"]), st.sampled_from(THRESHOLDS))
upper = st.tuples(st.sampled_from(["<=", "<"]), st.sampled_from(THRESHOLDS))
falling = st.one_of(st.tuples(lower), st.tuples(lower, upper))  # `>=` lists: higher is better
rising = st.one_of(st.tuples(upper), st.tuples(lower, upper))   # `<=` lists: lower is better
band_list = st.tuples(st.one_of(st.lists(falling, min_size=1, max_size=5), st.lists(rising, min_size=1, max_size=5)),
                      st.booleans())


def _findings(bands: list[tuple], has_else: bool) -> set[str]:
    lines = [" ".join(f"{op} {v}" for op, v in b) + f" -> {10 * i}" for i, b in enumerate(bands)]
    if has_else:
        lines.append("else -> 0")
    text = "framework t\nscale s = bands {\n" + "\n".join(lines) + "\n}\n"
    program, diags = resolve("t.kpi", Loader({"t.kpi": text.encode()}))
    assert not diags and program is not None
    return {d.code for d in scales.run(program, CheckContext(program))}


def _contains(lo, hi, x: Fraction) -> bool:
    if lo is not None and (x < lo[0] or (x == lo[0] and not lo[1])):
        return False
    return not (hi is not None and (x > hi[0] or x == hi[0] and not hi[1]))


def _expected(bands: list[tuple], has_else: bool) -> set[str] | None:
    """The findings a reader would expect; None when a band is out of order (then nothing else is judged)."""
    intervals = []
    prev = None
    codes: set[str] = set()
    for b in bands:
        edges = {op[0]: (Fraction(v), "=" in op) for op, v in b}
        lo, hi = edges.get(">"), edges.get("<")
        if lo is None:    # `<= x`: starts where the band before ended
            if prev is not None and hi[0] < prev[1][0]:
                return None
            lo = None if prev is None else (prev[1][0], not prev[1][1])
        elif hi is None:  # `>= x`: ends where the band before began
            if prev is not None and lo[0] > prev[0][0]:
                return None
            hi = None if prev is None else (prev[0][0], not prev[0][1])
        if any(_contains(lo, hi, x) for x in _samples()):
            intervals.append((lo, hi))
            prev = (lo, hi)
        else:
            codes.add("KPI053")
    covered = [x for x in _samples() if any(_contains(lo, hi, x) for lo, hi in intervals)]
    for x in _samples():
        hits = sum(_contains(lo, hi, x) for lo, hi in intervals)
        if hits > 1:
            codes.add("KPI050")
        if hits == 0:
            interior = any(c < x for c in covered) and any(c > x for c in covered)
            if interior or not has_else:
                codes.add("KPI051")
    return codes


def _samples() -> list[Fraction]:
    points = [Fraction(t) for t in THRESHOLDS]
    eps = Fraction(1, 1000)
    return sorted({p + d for p in points for d in (-eps, 0, eps)} | {Fraction(-5), Fraction(5)})


@settings(max_examples=150, deadline=None)
@given(band_list)
def test_bands_findings_match_brute_force(case):
    bands, has_else = case
    expected = _expected(bands, has_else)
    found = _findings(bands, has_else)
    if expected is None:
        assert "KPI052" in found
    else:
        assert found == expected
