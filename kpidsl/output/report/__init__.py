"""The HTML report of a run: one self-contained page (inline CSS and SVG, no script, no network) for a unit
head and the central committee.

`report_data` gathers what the page shows from the result tables, the manifest
and the framework evidence (per unit: points by criterion, the rating mix
against the quota, who is closest to the next rating, every rating change with
its reason; across units: a heatmap of criteria; for a year: the trend by
period). `render_report` fills the jinja2 template with autoescape on, so ids,
names and labels from data are always text, never markup; every fixed word
comes from the catalogue of the chosen language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kpidsl.i18n import Lang
from kpidsl.i18n import lang as language
from kpidsl.output.manifest import Manifest
from kpidsl.output.report import charts
from kpidsl.output.tables import NAMES, decimal_text, make_names, result_table

ROW_LIMIT = 2000
"""Rows listed per table; the CSV/Parquet files hold them all."""
UNIT_LIMIT = 60
"""Units drawn in the per-unit charts and the heatmap."""
PEOPLE_PER_CHART = 30
CLOSEST = 10
"""People listed per threshold, closest first."""


@dataclass
class UnitCard:
    """One unit's page part: its result, its people's points by criterion, its rating mix."""

    id: str
    name: str
    score: str
    rating: str
    changed_from: str
    people: int
    bars: charts.StackedBars
    mix: charts.RatingMix


@dataclass
class ReportData:
    manifest: Manifest
    t: Lang
    status: list[dict[str, Any]]
    units: list[UnitCard]
    units_total: int
    criteria: list[charts.Series]
    heatmap: charts.Heatmap | None
    closest: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    changes_total: int
    trend: charts.LineChart | None
    people: list[dict[str, Any]]
    people_total: int
    unit_rows: list[dict[str, Any]]
    quota: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    errors_total: int
    row_limit: int = ROW_LIMIT
    levels: list[dict[str, Any]] = field(default_factory=list)


def _levels(evidence: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    """Level name -> (position, label), best first, from the framework's ratings."""
    levels: dict[str, tuple[int, str | None]] = {}
    for rating in evidence.get("ratings", []):
        for level in rating["levels"]:
            levels.setdefault(level["name"], (len(levels), level.get("label")))
    return levels


def _top_items(evidence: dict[str, Any], entity: str) -> list[tuple[str, str]]:
    """(path, label) of the top-level items of the entity's scores, in framework order."""
    seen: dict[str, str] = {}
    for score in evidence.get("scores", []):
        if score["entity"] != entity:
            continue
        for item in score["items"]:
            if item["parent"] is None:
                seen.setdefault(item["path"], item.get("label") or item["path"])
    return list(seen.items())


def _leaf_criteria(evidence: dict[str, Any], entity: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for score in evidence.get("scores", []):
        if score["entity"] != entity:
            continue
        for item in score["items"]:
            if item["kind"] == "criterion":
                seen.setdefault(item["path"], item.get("label") or item["path"])
    return list(seen.items())


def _pts(value: Any, places: int, t: Lang) -> str:
    if value is None:
        return ""
    return t.num(decimal_text(Decimal(value).quantize(Decimal(1).scaleb(-places)), "points"))


def _who(id_: str, name: str | None) -> str:
    return name or id_


def _level_name(levels: dict[str, tuple[int, str | None]], level: str | None, label: str | None = None) -> str:
    if level is None:
        return ""
    return (levels.get(level, (0, None))[1]) or label or level


def _units(con: Any, evidence: dict[str, Any], places: int, t: Lang, levels: dict) -> tuple[list[UnitCard], int]:
    ents = result_table("entities")
    units = con.execute(
        f"SELECT e.id, nm.name, e.score, e.rating, e.rating_label, e.rating_before FROM {ents} AS e "
        f"LEFT JOIN {NAMES} AS nm ON nm.entity = 'units' AND nm.id = e.id WHERE e.entity = 'units' "
        "ORDER BY e.id, e.score_name NULLS FIRST LIMIT $n", {"n": UNIT_LIMIT}).fetchall()
    total = con.execute(f"SELECT count(DISTINCT id) FROM {ents} WHERE entity = 'units'").fetchall()[0][0]
    top = _top_items(evidence, "people")
    series = charts.series(top)
    shown = [u[0] for u in units]
    # Only the units drawn, and only the people drawn in each: the rest stay in the database.
    rows = con.execute(
        f"WITH p AS (SELECT e.id, e.unit_id, e.score, e.score_name, e.rating, nm.name, row_number() OVER "
        f"(PARTITION BY e.unit_id ORDER BY e.score DESC NULLS LAST, e.id) AS r FROM {ents} AS e "
        f"LEFT JOIN {NAMES} AS nm ON nm.entity = 'people' AND nm.id = e.id "
        "WHERE e.entity = 'people' AND list_contains($units, e.unit_id)), "
        "drawn AS (SELECT * FROM p WHERE r <= $k) "
        f"SELECT d.unit_id, d.id, d.name, d.score, d.rating, i.path, i.contribution FROM drawn AS d "
        f"LEFT JOIN {result_table('items')} AS i ON i.entity = 'people' AND i.id = d.id "
        "AND i.score_name IS NOT DISTINCT FROM d.score_name AND i.parent_path IS NULL "
        "ORDER BY d.unit_id, d.r, i.path", {"k": PEOPLE_PER_CHART, "units": shown}).fetchall()
    by_unit: dict[str, dict[str, dict[str, Any]]] = {}
    for unit_id, pid, name, score, rating, path, contribution in rows:
        person = by_unit.setdefault(unit_id, {}).setdefault(pid, {"label": _who(pid, name), "score": score,
                                                                  "rating": rating, "parts": {}})
        if path is not None and contribution is not None:
            person["parts"][path] = contribution
    counts = dict(con.execute(f"SELECT unit_id, count(*) FROM {ents} WHERE entity = 'people' "
                              "AND list_contains($units, unit_id) GROUP BY ALL", {"units": shown}).fetchall())
    mix_rows = con.execute(f"SELECT unit_id, rating, count(*) FROM {ents} WHERE entity = 'people' "
                           "AND rating IS NOT NULL AND list_contains($units, unit_id) GROUP BY ALL",
                           {"units": shown}).fetchall()
    mixes: dict[str, dict[str, int]] = {}
    for unit_id, rating, count in mix_rows:
        mixes.setdefault(unit_id, {})[rating] = count
    quota: dict[str, list[tuple[str, int, int, str]]] = {}
    for level, group, allowed, holders, resolution in con.execute(
            f"SELECT level, group_key, allowed, holders, resolution FROM {result_table('quota')} "
            "ORDER BY ALL").fetchall():
        quota.setdefault(group, []).append((level, allowed or 0, holders or 0, resolution or ""))
    cards = []
    for uid, name, score, rating, label, before in units:
        people = by_unit.get(uid, {})
        bars = charts.stacked_bars(
            [(p["label"], [(path, p["parts"].get(path)) for path, _ in top], p["score"]) for p in people.values()],
            series, places, t)
        mix = charts.rating_mix(mixes.get(uid, {}), levels, quota.get(uid, []), t)
        cards.append(UnitCard(uid, _who(uid, name), _pts(score, places, t), _level_name(levels, rating, label),
                              _level_name(levels, before) if before and before != rating else "",
                              counts.get(uid, 0), bars, mix))
    return cards, total


def _heatmap(con: Any, evidence: dict[str, Any], t: Lang) -> charts.Heatmap | None:
    criteria = _leaf_criteria(evidence, "people")
    if not criteria:
        return None
    ents = result_table("entities")
    rows = con.execute(
        f"WITH u AS (SELECT DISTINCT id FROM {ents} WHERE entity = 'units' ORDER BY id LIMIT $n) "
        f"SELECT e.unit_id, any_value(nm.name), i.path, avg(i.credit), count(i.credit) FROM {ents} AS e "
        f"JOIN u ON u.id = e.unit_id "
        f"JOIN {result_table('items')} AS i ON i.entity = 'people' AND i.id = e.id "
        "AND i.score_name IS NOT DISTINCT FROM e.score_name AND i.kind = 'criterion' "
        f"LEFT JOIN {NAMES} AS nm ON nm.entity = 'units' AND nm.id = e.unit_id "
        "WHERE e.entity = 'people' GROUP BY e.unit_id, i.path ORDER BY e.unit_id, i.path",
        {"n": UNIT_LIMIT}).fetchall()
    if not rows:
        return None
    return charts.heatmap(criteria, [(u, name or u, path, avg, n) for u, name, path, avg, n in rows], t)


def _thresholds(evidence: dict[str, Any]) -> list[tuple[str, str, int, Decimal, str]]:
    """(score, level, position, threshold, op) of each level with a `score >= N` condition."""
    out = []
    for score in evidence.get("scores", []):
        rating = next((r for r in evidence.get("ratings", []) if r["name"] == score.get("rating")), None)
        if rating is None:
            continue
        for pos, level in enumerate(rating["levels"]):
            if level.get("threshold"):
                out.append((score["name"], level["name"], pos, Decimal(level["threshold"]["value"]),
                            level["threshold"]["op"]))
    return out


def _closest(con: Any, evidence: dict[str, Any], places: int, t: Lang, levels: dict) -> list[dict[str, Any]]:
    """Per level: the people just below its threshold, closest first, and the criterion with the most room."""
    steps = _thresholds(evidence)
    if not steps:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE kpi_thresholds (score_name VARCHAR, level VARCHAR, pos INTEGER, "
                "threshold DECIMAL(38,12), strict BOOLEAN)")
    con.executemany("INSERT INTO kpi_thresholds VALUES ($1, $2, $3, $4, $5)",
                    [(s, lv, p, th, op == ">") for s, lv, p, th, op in steps])
    ents = result_table("entities")
    rows = con.execute(
        f"WITH gaps AS (SELECT e.id, e.score_name, e.score, e.rating, nm.name, un.name AS unit_name, e.unit_id, "
        f"k.level, k.pos, k.threshold - e.score AS gap, row_number() OVER (PARTITION BY e.id, e.score_name "
        f"ORDER BY k.threshold) AS nearest FROM {ents} AS e JOIN kpi_thresholds AS k ON k.score_name = e.score_name "
        "AND (e.score < k.threshold OR (k.strict AND e.score = k.threshold)) "
        f"LEFT JOIN {NAMES} AS nm ON nm.entity = 'people' AND nm.id = e.id "
        f"LEFT JOIN {NAMES} AS un ON un.entity = 'units' AND un.id = e.unit_id "
        "WHERE e.entity = 'people' AND e.status = 'ok'), "
        "ranked AS (SELECT *, row_number() OVER (PARTITION BY level ORDER BY gap, id) AS r FROM gaps "
        "WHERE nearest = 1) "
        "SELECT level, min(pos) OVER (PARTITION BY level) AS pos, id, name, unit_id, unit_name, score, gap, "
        "score_name, rating FROM ranked WHERE r <= $k ORDER BY pos, gap, id", {"k": CLOSEST}).fetchall()
    ids = sorted({r[2] for r in rows})
    room: dict[tuple[str, str], tuple[str, Decimal]] = {}
    if ids:
        for pid, score_name, label, space in con.execute(
                f"SELECT id, score_name, arg_max(label, budget - contribution), max(budget - contribution) "
                f"FROM {result_table('items')} WHERE entity = 'people' AND kind = 'criterion' "
                "AND list_contains($ids, id) GROUP BY ALL", {"ids": ids}).fetchall():
            room[(pid, score_name)] = (label, space)
    groups: dict[str, dict[str, Any]] = {}
    for level, _pos, pid, name, unit_id, unit_name, score, gap, score_name, rating in rows:
        group = groups.setdefault(level, {"level": _level_name(levels, level), "people": []})
        best = room.get((pid, score_name))
        group["people"].append({
            "id": pid, "name": _who(pid, name), "unit": _who(unit_id or "", unit_name), "score": _pts(score, places, t),
            "gap": _pts(gap if gap > 0 else 0, places, t), "rating": _level_name(levels, rating),
            "room_label": best[0] if best else "", "room": _pts(best[1], places, t) if best else ""})
    return list(groups.values())


def _changes(con: Any, places: int, t: Lang, levels: dict) -> tuple[list[dict[str, Any]], int]:
    steps = result_table("rating_steps")
    where = "s.step <> 'level' AND s.from_level IS DISTINCT FROM s.to_level"
    rows = con.execute(
        f"SELECT s.entity, s.id, nm.name, s.step, s.from_level, s.to_level, s.reason, s.file, s.line "
        f"FROM {steps} AS s LEFT JOIN {NAMES} AS nm ON nm.entity = s.entity AND nm.id = s.id WHERE {where} "
        "ORDER BY s.entity, s.id, s.score_name NULLS FIRST, s.line NULLS FIRST LIMIT $n", {"n": ROW_LIMIT}).fetchall()
    total = con.execute(f"SELECT count(*) FROM {steps} AS s WHERE {where}").fetchall()[0][0]
    words = step_words(t)
    out = []
    for entity, pid, name, step, before, after, reason, file, line in rows:
        out.append({"entity": entity, "id": pid, "name": _who(pid, name), "step": words.get(step, step),
                    "kind": step, "from": _level_name(levels, before), "to": _level_name(levels, after),
                    "reason": reason or "", "source": f"{file}:{line}" if file else ""})
    return out, total


def _trend(con: Any, places: int, t: Lang) -> charts.LineChart | None:
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = $s "
                        "AND table_name = 'periods'", {"s": "results"}).fetchall()[0][0]
    if not found:
        return None
    rows = con.execute(
        f"SELECT coalesce(un.name, e.unit_id), p.period, avg(p.score) FROM {result_table('periods')} AS p "
        f"JOIN {result_table('entities')} AS e ON e.entity = p.entity AND e.id = p.id "
        f"LEFT JOIN {NAMES} AS un ON un.entity = 'units' AND un.id = e.unit_id "
        "WHERE p.entity = 'people' AND p.score IS NOT NULL GROUP BY ALL ORDER BY ALL").fetchall()
    if not rows:
        return None
    return charts.line_chart(rows, t, UNIT_LIMIT // 6)


def step_words(t: Lang) -> dict[str, str]:
    """Why a rating changed, by the kind of step that changed it."""
    return {"override": t._("Override"), "cap": t._("Capped: not above another rating"), "quota": t._("Quota")}


def _listed(con: Any, entity: str, places: int, t: Lang, levels: dict,
            evidence: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    ents = result_table("entities")
    rows = con.execute(
        f"SELECT e.id, nm.name, e.unit_id, un.name, e.score_name, e.status, e.score, e.rating, e.rating_label, "
        f"e.rating_before, e.reason, (SELECT list(s.step ORDER BY s.line) FROM {result_table('rating_steps')} AS s "
        "WHERE s.entity = e.entity AND s.id = e.id AND s.score_name IS NOT DISTINCT FROM e.score_name "
        "AND s.step <> 'level' AND s.from_level IS DISTINCT FROM s.to_level) "
        f"FROM {ents} AS e LEFT JOIN {NAMES} AS nm ON nm.entity = e.entity AND nm.id = e.id "
        f"LEFT JOIN {NAMES} AS un ON un.entity = 'units' AND un.id = e.unit_id WHERE e.entity = $e "
        "ORDER BY e.id, e.score_name NULLS FIRST LIMIT $n", {"e": entity, "n": ROW_LIMIT}).fetchall()
    total = con.execute(f"SELECT count(*) FROM {ents} WHERE entity = $e", {"e": entity}).fetchall()[0][0]
    blocks = {s["name"]: s.get("label") or s["name"] for s in evidence.get("scores", [])}
    blocks.update({r["name"]: r.get("label") or r["name"] for r in evidence.get("rollups", [])})
    words = step_words(t)
    out = [{"id": r[0], "name": r[1] or "", "unit": r[2] or "", "unit_name": r[3] or r[2] or "",
            "score_name": blocks.get(r[4], r[4]) if r[4] else "", "status": r[5], "score": _pts(r[6], places, t),
            "rating": _level_name(levels, r[7], r[8]), "changed": r[9] is not None and r[9] != r[7],
            "rating_before": _level_name(levels, r[9]), "reason": r[10] or "",
            "why": "; ".join(dict.fromkeys(words.get(s, s) for s in r[11] or []))} for r in rows]
    return out, total


def report_data(con: Any, manifest: Manifest, evidence: dict[str, Any], t: Lang | None = None) -> ReportData:
    t = t or language(evidence.get("language"))
    places = manifest.framework.rounding.places
    make_names(con, evidence)
    levels = _levels(evidence)
    status = [{"entity": e, "status": s, "count": c} for e, s, c in con.execute(
        f"SELECT entity, status, count(*) FROM {result_table('entities')} GROUP BY ALL ORDER BY ALL").fetchall()]
    units, units_total = _units(con, evidence, places, t, levels)
    changes, changes_total = _changes(con, places, t, levels)
    people, people_total = _listed(con, "people", places, t, levels, evidence)
    unit_rows, _ = _listed(con, "units", places, t, levels, evidence)
    quota = []
    listed = manifest.quota[:ROW_LIMIT]
    ids = sorted({i for q in listed for i in [*q.kept, *q.moved]} | {q.group for q in listed if q.group})
    names = dict(con.execute(f"SELECT id, name FROM {NAMES} WHERE name IS NOT NULL AND list_contains($ids, id) "
                             "ORDER BY entity DESC", {"ids": ids}).fetchall()) if ids else {}
    for q in listed:
        quota.append({**q.model_dump(), "level_label": _level_name(levels, q.level),
                      "of_label": _level_name(levels, q.of_level), "group_name": names.get(q.group or "", ""),
                      "kept_named": [(i, names.get(i, "")) for i in q.kept],
                      "moved_named": [(i, names.get(i, "")) for i in q.moved]})
    errors = [{"entity": e, "id": i, "score_name": s or "", "reason": r or ""} for e, i, s, r in con.execute(
        f"SELECT entity, id, score_name, reason FROM {result_table('entities')} WHERE status = 'error' "
        "ORDER BY entity, id, score_name NULLS FIRST LIMIT $n", {"n": ROW_LIMIT}).fetchall()]
    errors_total = con.execute(
        f"SELECT count(*) FROM {result_table('entities')} WHERE status = 'error'").fetchall()[0][0]
    return ReportData(manifest=manifest, t=t, status=status, units=units, units_total=units_total,
                      criteria=charts.series(_top_items(evidence, "people")), heatmap=_heatmap(con, evidence, t),
                      closest=_closest(con, evidence, places, t, levels), changes=changes,
                      changes_total=changes_total, trend=_trend(con, places, t), people=people,
                      people_total=people_total, unit_rows=unit_rows, quota=quota, errors=errors,
                      errors_total=errors_total,
                      levels=[{"name": k, "label": v[1] or k, "css": charts.level_class(v[0])}
                              for k, v in levels.items()])


def environment(t: Lang) -> Any:
    """The template environment: autoescape on, the language's `_` and `n_` as globals."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("kpidsl.output.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(_=t._, n_=t.n_, num=t.num, date=t.date, lang=t.code)
    return env


def render_report(data: ReportData) -> str:
    """The report page; every value from data is escaped by the template engine."""
    return environment(data.t).get_template("report.html.j2").render(r=data, m=data.manifest)


def write_report(path: str, data: ReportData) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_report(data))
