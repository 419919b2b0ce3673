"""The report's charts as geometry: stacked bars, rating mixes, a heatmap and a trend line, drawn as inline
SVG by the template (which escapes every text), coloured by CSS classes so print and dark mode restyle them.

Hand-drawn rather than from a charting library: four simple shapes, exact and byte-stable output, and
colours that come from the page's stylesheet; tests/test_charts.py and tests/test_report.py check the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kpidsl.i18n import Lang

PALETTE = 8
"""Series colours c0..c7 in the stylesheet; further series reuse them."""
LABEL_WIDTH = 190
BAR_WIDTH = 420
ROW = 22
MIN_LABEL = 30
"""A segment narrower than this (px) carries no value text; its <title> and the table still give it."""
LABEL_CHARS = 26


def level_class(position: int) -> str:
    return f"lv{min(position, 4)}"


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    css: str


def series(items: list[tuple[str, str]]) -> list[Series]:
    return [Series(path, label, f"c{i % PALETTE}") for i, (path, label) in enumerate(items)]


def short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class Segment:
    x: float
    width: float
    css: str
    value: str
    title: str
    show_value: bool


@dataclass
class Bar:
    label: str
    full: str
    y: int
    total: str
    segments: list[Segment]
    end: float


@dataclass
class StackedBars:
    width: int
    height: int
    bars: list[Bar]
    series: list[Series]
    scale_max: float
    ticks: list[tuple[float, str]] = field(default_factory=list)


def stacked_bars(rows: list[tuple[str, list[tuple[str, Any]], Any]], all_series: list[Series], places: int,
                 t: Lang, full_scale: float = 100.0) -> StackedBars:
    """One bar per row (label, [(series key, points)], total); negative parts (penalties) are not stacked."""
    css = {s.key: s for s in all_series}
    px = BAR_WIDTH / full_scale
    bars = []
    for i, (label, parts, total) in enumerate(rows):
        x = 0.0
        segments = []
        for key, value in parts:
            if value is None or Decimal(value) <= 0:
                continue
            width = float(value) * px
            text = t.num(f"{Decimal(value):.{places}f}")
            s = css[key]
            segments.append(Segment(round(LABEL_WIDTH + x, 2), round(width, 2), s.css, text,
                                    f"{label} · {s.label}: {text}", width >= MIN_LABEL))
            x += width
        total_text = t.num(f"{Decimal(total):.{places}f}") if total is not None else "–"
        bars.append(Bar(short(label), label, i * ROW, total_text, segments, round(LABEL_WIDTH + min(x, BAR_WIDTH), 2)))
    ticks = [(round(LABEL_WIDTH + v * px, 2), str(int(v))) for v in (0, 25, 50, 75, 100)]
    return StackedBars(LABEL_WIDTH + BAR_WIDTH + 60, len(bars) * ROW + 26, bars, all_series, full_scale, ticks)


@dataclass
class MixPart:
    name: str
    label: str
    count: int
    x: float
    width: float
    css: str


@dataclass
class QuotaMark:
    level: str
    allowed: int
    holders: int
    text: str
    breach: bool  # more hold it than allowed, and it is left for a decision


@dataclass
class RatingMix:
    total: int
    parts: list[MixPart]
    quotas: list[QuotaMark]
    width: int = 420


def rating_mix(counts: dict[str, int], levels: dict[str, tuple[int, str | None]],
               quotas: list[tuple[str, int, int, str]], t: Lang, width: int = 420) -> RatingMix:
    """The people of a unit by final level, best first, as one bar; and each quota's limit against its holders."""
    total = sum(counts.values())
    order = sorted(counts, key=lambda lv: (levels.get(lv, (99, None))[0], lv))
    parts, x = [], 0.0
    for lv in order:
        w = width * counts[lv] / total if total else 0
        pos, label = levels.get(lv, (4, None))
        parts.append(MixPart(lv, label or lv, counts[lv], round(x, 2), round(w, 2), level_class(pos)))
        x += w
    marks = []
    for level, allowed, holders, resolution in quotas:
        label = levels.get(level, (0, None))[1] or level
        text = t._("{level}: at most {allowed}; {holders} by score", level=label, allowed=allowed, holders=holders)
        if holders > allowed:
            text += "; " + (t._("reported for a decision") if resolution == "report" else
                            t.n_("{count} moved down one level", "{count} moved down one level", holders - allowed))
        marks.append(QuotaMark(label, allowed, holders, text, holders > allowed and resolution == "report"))
    return RatingMix(total, parts, marks, width)


@dataclass
class HeatCell:
    value: str
    css: str
    count: int


@dataclass
class Heatmap:
    columns: list[Series]
    rows: list[tuple[str, str, list[HeatCell | None]]]


def heat_class(credit: float) -> str:
    """Five steps of credit, 0-100: h0 (< 50) to h4 (>= 90)."""
    for limit, css in ((90, "h4"), (80, "h3"), (70, "h2"), (50, "h1")):
        if credit >= limit:
            return css
    return "h0"


def heatmap(criteria: list[tuple[str, str]], rows: list[tuple[str, str, str, Any, int]], t: Lang) -> Heatmap:
    """Units × criteria: the mean credit (0-100) of the unit's people on each criterion."""
    columns = series(criteria)
    cells: dict[str, dict[str, HeatCell]] = {}
    names: dict[str, str] = {}
    for unit, name, path, avg, n in rows:
        names[unit] = name
        if avg is not None:
            cells.setdefault(unit, {})[path] = HeatCell(t.num(f"{float(avg):.0f}"), heat_class(float(avg)), n)
        else:
            cells.setdefault(unit, {})
    out = [(unit, names[unit], [cells[unit].get(c.key) for c in columns]) for unit in names]
    return Heatmap(columns, out)


@dataclass
class Line:
    label: str
    css: str
    points: str
    dots: list[tuple[float, float, str]]


@dataclass
class LineChart:
    width: int
    height: int
    periods: list[tuple[float, str]]
    lines: list[Line]
    grid: list[tuple[float, str]]


def line_chart(rows: list[tuple[str, str, Any]], t: Lang, limit: int = 10, width: int = 640,
               height: int = 260) -> LineChart:
    """The mean score of each unit's people per period (0-100), one line per unit."""
    periods = sorted({p for _, p, _ in rows})
    units: dict[str, dict[str, float]] = {}
    for unit, period, avg in rows:
        units.setdefault(unit, {})[period] = float(avg)
    left, right, top, bottom = 44, 150, 12, 30
    span_x = (width - left - right) / max(len(periods) - 1, 1)
    xs = {p: round(left + i * span_x, 2) for i, p in enumerate(periods)}

    def y(v: float) -> float:
        return round(top + (height - top - bottom) * (1 - min(max(v, 0), 100) / 100), 2)

    lines = []
    for i, (unit, values) in enumerate(sorted(units.items())[:limit]):
        dots = [(xs[p], y(v), t.num(f"{v:.1f}")) for p, v in sorted(values.items())]
        lines.append(Line(short(unit, 20), f"c{i % PALETTE}", " ".join(f"{x},{yy}" for x, yy, _ in dots), dots))
    grid = [(y(v), str(v)) for v in (0, 25, 50, 75, 100)]
    return LineChart(width, height, [(xs[p], p) for p in periods], lines, grid)
