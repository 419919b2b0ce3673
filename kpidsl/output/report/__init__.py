"""The HTML report of a run: one self-contained page (inline CSS and SVG, no script, no network).

`report_data` gathers what the page shows from the result tables, the manifest
and the framework evidence; `render_report` fills the jinja2 template with
autoescape on, so ids and labels from data are always text, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kpidsl.output.manifest import Manifest
from kpidsl.output.tables import decimal_text, result_table

ROW_LIMIT = 2000
"""Rows listed per table; the CSV/Parquet files hold them all."""

BINS = 10
_BAR_WIDTH = 360
_HIST_HEIGHT = 120


@dataclass
class Bar:
    label: str
    count: int
    width: int = 0


@dataclass
class Chart:
    """The bars of one chart, with their drawn sizes."""

    title: str
    bars: list[Bar]
    total: int = 0


@dataclass
class Section:
    """One entity's results: its charts and rows."""

    entity: str
    title: str
    unit_header: str
    ratings: Chart
    histogram: Chart
    rows: list[dict[str, Any]]
    total: int
    status: dict[str, int] = field(default_factory=dict)


@dataclass
class ReportData:
    manifest: Manifest
    sections: list[Section]
    quota: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    errors_total: int
    row_limit: int = ROW_LIMIT


def _levels(evidence: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    """Level name -> (position, label), best first, from the framework's ratings."""
    levels: dict[str, tuple[int, str | None]] = {}
    for rating in evidence.get("ratings", []):
        for level in rating["levels"]:
            levels.setdefault(level["name"], (len(levels), level.get("label")))
    return levels


def _rating_chart(con: Any, entity: str, levels: dict[str, tuple[int, str | None]]) -> Chart:
    rows = con.execute(f"SELECT rating, min(rating_label), count(*) FROM {result_table('entities')} "
                       "WHERE entity = $e GROUP BY rating", {"e": entity}).fetchall()
    last = (len(levels), None)
    rows.sort(key=lambda r: (r[0] is None, levels.get(r[0] or "", last)[0], r[0] or ""))
    bars = [Bar(f"{levels.get(rating, last)[1] or label or rating} ({rating})" if rating else "not rated", count)
            for rating, label, count in rows]
    return _sized(Chart("Ratings", bars), _BAR_WIDTH)


def _histogram(con: Any, entity: str, totals: dict[str, Decimal]) -> Chart:
    """Scores as a share of their score's total, in ten bins (the last one holds 100%)."""
    rows = con.execute(f"SELECT score_name, score, count(*) FROM {result_table('entities')} "
                       "WHERE entity = $e AND score IS NOT NULL GROUP BY ALL", {"e": entity}).fetchall()
    counts = [0] * BINS
    for score_name, score, count in rows:
        total = totals.get(score_name, Decimal(100))
        share = score / total if total else Decimal(0)
        counts[max(0, min(BINS - 1, int(share * BINS)))] += count
    step = 100 // BINS
    bars = [Bar(f"{i * step}–{(i + 1) * step}%", c) for i, c in enumerate(counts)]
    return _sized(Chart("Scores (share of the total)", bars), _HIST_HEIGHT)


def _sized(chart: Chart, full: int) -> Chart:
    top = max((b.count for b in chart.bars), default=0)
    for bar in chart.bars:
        bar.width = round(full * bar.count / top) if top else 0
    chart.total = sum(b.count for b in chart.bars)
    return chart


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value, "points")
    return str(value)


def _section(con: Any, entity: str, evidence: dict[str, Any], places: int) -> Section:
    levels = _levels(evidence)
    totals = {s["name"]: Decimal(s["total"]) if "/" not in s["total"] else Decimal(100)
              for s in evidence.get("scores", [])}
    rows = con.execute(
        f"SELECT id, unit_id, score_name, status, CAST(score AS DECIMAL(38,{places})), rating, rating_label, "
        f"rating_before, reason FROM {result_table('entities')} WHERE entity = $e "
        "ORDER BY id, score_name NULLS FIRST LIMIT $n", {"e": entity, "n": ROW_LIMIT}).fetchall()
    listed = [{"id": r[0], "unit": _shown(r[1]), "score_name": _shown(r[2]), "status": r[3], "score": _shown(r[4]),
               "rating": _shown(r[5]), "rating_label": _shown(r[6]),
               "changed": r[7] is not None and r[7] != r[5], "rating_before": _shown(r[7]), "reason": _shown(r[8])}
              for r in rows]
    status = dict(con.execute(f"SELECT status, count(*) FROM {result_table('entities')} WHERE entity = $e "
                              "GROUP BY status ORDER BY status", {"e": entity}).fetchall())
    return Section(entity, "People" if entity == "people" else "Units",
                   "unit" if entity == "people" else "parent",
                   _rating_chart(con, entity, levels), _histogram(con, entity, totals), listed,
                   sum(status.values()), status)


def report_data(con: Any, manifest: Manifest, evidence: dict[str, Any]) -> ReportData:
    places = manifest.framework.rounding.places
    sections = [_section(con, "units", evidence, places), _section(con, "people", evidence, places)]
    quota = [q.model_dump() for q in manifest.quota[:ROW_LIMIT]]
    errors = [{"entity": e, "id": i, "score_name": _shown(s), "reason": _shown(r)} for e, i, s, r in con.execute(
        f"SELECT entity, id, score_name, reason FROM {result_table('entities')} WHERE status = 'error' "
        "ORDER BY entity, id, score_name NULLS FIRST LIMIT $n", {"n": ROW_LIMIT}).fetchall()]
    total = con.execute(f"SELECT count(*) FROM {result_table('entities')} WHERE status = 'error'").fetchall()[0][0]
    return ReportData(manifest, sections, quota, errors, total)


def render_report(data: ReportData) -> str:
    """The report page; every value from data is escaped by the template engine."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("kpidsl.output.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(r=data, m=data.manifest)


def write_report(path: str, data: ReportData) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_report(data))
