"""Explain one result of a run from the files the run wrote (never recomputing): the score as a tree,
the rating steps with their reasons, and what would reach the next rating.

The evidence is `evidence/*.parquet` (the result tables) and `evidence/framework.json`
(the framework's rules with their source lines), plus `manifest.json`.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from kpidsl.i18n import Lang
from kpidsl.i18n import lang as language
from kpidsl.output.tables import EVIDENCE_DIR, FRAMEWORK_EVIDENCE, ORDER_BY, decimal_text

EXPLAIN_VERSION = 2
OPTIONS_SHOWN = 3
MEASURE_DEPTH = 4


class ExplainError(Exception):
    """The question cannot be answered from this folder; `help` says what to do instead."""

    def __init__(self, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help


# ---------------------------------------------------------------- the answer (its JSON form is documented)

class MeasureNode(BaseModel):
    name: str
    label: str | None = None
    value: str | None = None
    rows_total: int | None = None
    rows_matched: int | None = None
    expression: str | None = None
    source: str | None = None
    measures: list[MeasureNode] = []


class ItemNode(BaseModel):
    path: str
    name: str
    kind: str
    label: str | None = None
    share: str | None = None
    value: str | None = None
    credit: str | None = None
    weight: str | None = None
    parent_budget: str | None = None
    budget: str | None = None
    exact: str | None = None
    contribution: str | None = None
    rounding_note: str | None = None
    missing_policy: str | None = None
    scale: str | None = None
    scale_text: str | None = None
    expression: str | None = None
    limit: str | None = None
    source: str | None = None
    measures: list[MeasureNode] = []
    children: list[ItemNode] = []


class RatingStep(BaseModel):
    step: str
    from_level: str | None = None
    to_level: str | None = None
    reason: str | None = None
    source: str | None = None


class QuotaRow(BaseModel):
    rating: str | None = None
    level: str | None = None
    of_level: str | None = None
    group: str | None = None
    allowed: int | None = None
    holders: int | None = None
    resolution: str | None = None
    outcome: str  # kept | moved


class PeriodRow(BaseModel):
    period: str
    score_name: str | None = None
    status: str | None = None
    score: str | None = None
    rating: str | None = None


class Option(BaseModel):
    path: str
    label: str | None = None
    contribution: str
    budget: str
    room: str
    credit: str | None = None
    credit_needed: str
    value: str | None = None
    value_needed: str | None = None
    closes_gap: bool
    note: str


class NextRating(BaseModel):
    level: str
    label: str | None = None
    threshold: str | None = None
    op: str | None = None
    condition: str | None = None
    score: str
    points_missing: str | None = None
    held_back_by: list[str] = []
    options: list[Option] = []


class Result(BaseModel):
    entity: str
    id: str
    name: str | None = None
    unit_name: str | None = None
    score_name: str | None = None
    score_label: str | None = None
    status: str
    score: str | None = None
    total: str | None = None
    score_expression: str | None = None
    not_evaluated_when: str | None = None
    rating_name: str | None = None
    rating: str | None = None
    rating_label: str | None = None
    rating_before: str | None = None
    unit_id: str | None = None
    reason: str | None = None
    source: str | None = None
    items: list[ItemNode] = []
    rating_steps: list[RatingStep] = []
    quota: list[QuotaRow] = []
    periods: list[PeriodRow] = []
    at_top: bool = False
    next: NextRating | None = None


class Explanation(BaseModel):
    version: int = EXPLAIN_VERSION
    framework: str
    framework_version: str | None = None
    period: str
    engine_version: str
    results: list[Result]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- reading the evidence

class _Evidence:
    """The framework's rules (framework.json) indexed for lookups."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.places = int(data.get("rounding", {}).get("places", 2))
        self.scores = {s["name"]: s for s in data.get("scores", [])}
        self.items = {(s["name"], i["path"]): i for s in data.get("scores", []) for i in s["items"]}
        self.order = {key: pos for pos, key in enumerate(self.items)}
        self.measures = {m["name"]: m for m in data.get("measures", [])}
        self.ratings = {r["name"]: r for r in data.get("ratings", [])}
        self.rollups = {r["name"]: r for r in data.get("rollups", [])}
        self.language = data.get("language")


def _source(file: str | None, line: int | None) -> str | None:
    if not file:
        return None
    return f"{file}:{line}" if line is not None else file


def _dec(value: Any) -> str | None:
    return decimal_text(value) if isinstance(value, Decimal) else None if value is None else str(value)


def _points(value: Any, places: int) -> str | None:
    if value is None:
        return None
    return decimal_text(Decimal(value).quantize(Decimal(1).scaleb(-places)), "points")


def _rows(con: Any, folder: str, table: str, where: str, params: dict[str, Any], order: str) -> list[dict]:
    path = os.path.join(folder, EVIDENCE_DIR, f"{table}.parquet")
    if not os.path.isfile(path):
        return []
    cursor = con.execute(f"SELECT * FROM read_parquet($path) WHERE {where} ORDER BY {order}", {"path": path, **params})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _candidates(con: Any, folder: str, wanted: str) -> list[str]:
    """The ids closest to `wanted`, found in SQL so a million ids are never read into Python."""
    path = os.path.join(folder, EVIDENCE_DIR, "entities.parquet")
    rows = con.execute("SELECT DISTINCT id, jaro_winkler_similarity(id, $id) AS s FROM read_parquet($path) "
                       "WHERE id IS NOT NULL ORDER BY s DESC, id LIMIT 5", {"path": path, "id": wanted}).fetchall()
    return [r[0] for r in rows]


def explain(folder: str, entity_id: str, score: str | None = None, t: Lang | None = None) -> Explanation:
    """Every result of `entity_id` in the run folder (or only the one of score `score`)."""
    import duckdb

    from kpidsl.output.manifest import read_manifest

    try:
        manifest = read_manifest(folder)
    except ValueError as err:
        raise ExplainError(str(err), "name the folder given as --out to `kpidsl run`") from None
    evidence_path = os.path.join(folder, EVIDENCE_DIR, FRAMEWORK_EVIDENCE)
    entities_path = os.path.join(folder, EVIDENCE_DIR, "entities.parquet")
    if not (os.path.isfile(evidence_path) and os.path.isfile(entities_path)):
        raise ExplainError(f"{folder}: the evidence files ({EVIDENCE_DIR}/) are missing",
                           "run `kpidsl run` again to write them")
    try:
        with open(evidence_path, encoding="utf-8") as fh:
            ev = _Evidence(json.load(fh))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ExplainError(f"{evidence_path}: cannot be read ({err})", "run `kpidsl run` again") from None
    con = duckdb.connect()
    try:
        return _explain(con, folder, ev, manifest, entity_id, score, t or language(ev.language))
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExplainError(f"{folder}: the evidence files cannot be read ({first})",
                           "run `kpidsl run` again") from None
    finally:
        con.close()


def _explain(con: Any, folder: str, ev: _Evidence, manifest: Any, entity_id: str, score: str | None,
             t: Lang) -> Explanation:
    from kpidsl.diagnostics import did_you_mean

    key = {"id": entity_id}
    entities = _rows(con, folder, "entities", "id = $id", key, "entity, score_name NULLS FIRST")
    if not entities:
        close = _candidates(con, folder, entity_id)
        same = [c for c in close if c.casefold() == entity_id.casefold()]
        raise ExplainError(f"no result for id {entity_id!r} in {folder}",
                           (f"did you mean `{same[0]}`? (ids are matched exactly)" if same else None)
                           or did_you_mean(entity_id, close)
                           or "ids are the keys of the people and units inputs")
    if score is not None:
        chosen = [e for e in entities if e["score_name"] == score]
        if not chosen:
            names = [e["score_name"] for e in entities if e["score_name"]]
            raise ExplainError(f"{entity_id} has no result for score {score!r} (it has: "
                               f"{', '.join(names) or 'none'})", did_you_mean(score, names))
        entities = chosen
    items = _rows(con, folder, "items", "id = $id", key, "entity, score_name, path")
    measures = _rows(con, folder, "measures", "id = $id", key, "entity, name")
    steps = _rows(con, folder, "rating_steps", "id = $id", key, ORDER_BY["rating_steps"])
    quota = _rows(con, folder, "quota", "list_contains(kept, $id) OR list_contains(moved, $id)", key,
                  "rating, level, group_key")
    periods = _rows(con, folder, "periods", "id = $id", key, "entity, period, score_name")
    results = [_result(e, ev, items, measures, steps, quota, periods, t) for e in entities]
    return Explanation(framework=manifest.framework.id, framework_version=manifest.framework.version,
                       period=manifest.period.label, engine_version=manifest.engine.version, results=results)


# ---------------------------------------------------------------- building one result

def _result(e: dict, ev: _Evidence, items: list[dict], measures: list[dict], steps: list[dict],
            quota: list[dict], periods: list[dict], t: Lang) -> Result:
    entity, name = e["entity"], e["score_name"]
    score_ev = ev.scores.get(name or "")
    rollup_ev = ev.rollups.get(name or "")
    decl = score_ev or rollup_ev or {}
    rating_name = decl.get("rating")
    values = {m["name"]: m for m in measures if m["entity"] == entity}
    own = [i for i in items if i["entity"] == entity and i["score_name"] == name]
    result = Result(
        entity=entity, id=e["id"], name=e.get("name"), unit_name=e.get("unit_name"), score_name=name,
        score_label=decl.get("label"), status=e["status"],
        score=_points(e["score"], ev.places), total=score_ev["total"] if score_ev else None,
        score_expression=rollup_ev.get("score") if rollup_ev else None,
        not_evaluated_when=rollup_ev.get("not_evaluated") if rollup_ev else None,
        rating_name=rating_name, rating=e["rating"], rating_label=e["rating_label"],
        rating_before=e["rating_before"], unit_id=e["unit_id"], reason=e["reason"],
        source=_source(decl.get("file"), decl.get("line")),
        items=_tree(own, ev, name or "", values, score_ev["total"] if score_ev else None, t),
        rating_steps=[RatingStep(step=s["step"], from_level=s["from_level"], to_level=s["to_level"],
                                 reason=s["reason"], source=_source(s["file"], s["line"]))
                      for s in _ordered_steps(steps, entity, name)],
        quota=[QuotaRow(rating=q["rating"], level=q["level"], of_level=q["of_level"], group=q["group_key"],
                        allowed=q["allowed"], holders=q["holders"], resolution=q["resolution"],
                        outcome="kept" if e["id"] in (q["kept"] or []) else "moved")
               for q in quota if q["rating"] == rating_name],
        periods=[PeriodRow(period=p["period"], score_name=p["score_name"], status=p["status"],
                           score=_points(p["score"], ev.places), rating=p["rating"])
                 for p in periods if p["entity"] == entity and rollup_ev is not None],
    )
    rating_ev = ev.ratings.get(rating_name or "")
    if result.status == "ok" and rating_ev and result.rating:
        levels = [lv["name"] for lv in rating_ev["levels"]]
        if result.rating in levels and levels.index(result.rating) == 0:
            result.at_top = True
        elif result.rating in levels:
            result.next = _next_rating(result, rating_ev, levels.index(result.rating) - 1, own, ev, t)
    return result


_STEP_RANK = {"level": 0, "override": 1, "cap": 2, "quota": 3}


def _ordered_steps(steps: list[dict], entity: str, name: str | None) -> list[dict]:
    mine = [s for s in steps if s["entity"] == entity and s["score_name"] == name]
    return sorted(mine, key=lambda s: (_STEP_RANK.get(s["step"], 9), s["line"] or 0))


def _tree(rows: list[dict], ev: _Evidence, score: str, values: dict[str, dict], total: str | None,
          t: Lang) -> list[ItemNode]:
    by_parent: dict[str | None, list[dict]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_path"], []).append(row)
    for siblings in by_parent.values():
        siblings.sort(key=lambda r: (ev.order.get((score, r["path"]), len(ev.order)), r["path"]))

    def build(row: dict, parent: dict | None) -> ItemNode:
        item = ev.items.get((score, row["path"]), {})
        scale = item.get("scale") or {}
        value = row["value_text"] if row.get("value_text") is not None else _dec(row["value"])
        exact, note = _exact(row, parent, ev.places, t)
        return ItemNode(
            path=row["path"], name=item.get("name") or row["path"].rsplit(".", 1)[-1], kind=row["kind"],
            label=row["label"], share=item.get("share"), value=value, credit=_dec(row["credit"]),
            weight=_dec(row["weight"]), parent_budget=_dec(parent["budget"]) if parent else total,
            budget=_dec(row["budget"]), exact=exact, contribution=_points(row["contribution"], ev.places),
            rounding_note=note, missing_policy=row["missing_policy"],
            scale=row["scale"], scale_text=scale.get("text"), expression=item.get("expression"),
            limit=item.get("limit"), source=_source(row["file"], row["line"]),
            measures=[_measure(m, ev, values, (m,)) for m in item.get("measures", [])],
            children=[build(child, row) for child in by_parent.get(row["path"], [])])

    return [build(row, None) for row in by_parent.get(None, [])]


def _exact(row: dict, parent: dict | None, places: int, t: Lang) -> tuple[str | None, str | None]:
    """A criterion's unrounded points (budget × credit / 100), and a note when its shown points are not
    that value rounded on its own (the engine rounds a block's parts so they add up to the block)."""
    if row["kind"] != "criterion" or row["budget"] is None or row["credit"] is None or row["contribution"] is None:
        return None, None
    exact = _rational(row["budget"]) * _rational(row["credit"]) / 100
    alone = _fixed(exact, places, nearest=True)
    shown = _points(row["contribution"], places)
    note = None
    if alone != shown and parent is not None:
        note = t._("rounded to {shown}, not {alone}, so that the parts of {parent} add up to {total}",
                   shown=t.num(shown), alone=t.num(alone), parent=parent["path"],
                   total=t.num(_points(parent["contribution"], places)))
    return _long(exact), note


def _rational(value: Decimal) -> Fraction:
    """A stored decimal as the ratio of small whole numbers it rounds (23.333333333333 -> 70/3), when there
    is one; budgets and credits are such ratios, and their product is then exact. Credits are stored with
    10 places, so a ratio within half a unit of the 10th place is taken; small denominators keep a value
    that is no such ratio from being mistaken for one."""
    stored = Fraction(value)
    close = stored.limit_denominator(10_000)
    return close if abs(close - stored) <= Fraction(1, 2 * 10 ** 10) else stored


def _long(value: Fraction, places: int = 12) -> str:
    """Exact decimal text, or rounded to `places` and marked `…` when the decimals do not end."""
    exact = _frac(value, places)
    return exact if Fraction(Decimal(exact)) == value else _fixed(value, places, nearest=True).rstrip("0") + "…"


def _measure(name: str, ev: _Evidence, values: dict[str, dict], seen: tuple[str, ...]) -> MeasureNode:
    decl = ev.measures.get(name, {})
    row = values.get(name, {})
    value = row.get("value_text") if row.get("value_text") is not None else _dec(row.get("value"))
    below = [] if len(seen) >= MEASURE_DEPTH else [
        _measure(m, ev, values, seen + (m,)) for m in decl.get("measures", []) if m not in seen]
    return MeasureNode(name=name, label=decl.get("label"), value=value, rows_total=row.get("rows_total"),
                       rows_matched=row.get("rows_matched"), expression=decl.get("expression"),
                       source=_source(decl.get("file"), decl.get("line")), measures=below)


# ---------------------------------------------------------------- the next rating

def _next_rating(result: Result, rating_ev: dict, index: int, rows: list[dict], ev: _Evidence,
                 t: Lang) -> NextRating:
    level = rating_ev["levels"][index]
    score = Fraction(Decimal(result.score or "0"))
    threshold = level.get("threshold")
    nxt = NextRating(level=level["name"], label=level.get("label"), condition=level.get("condition"),
                     score=result.score or "0")
    if threshold is None:
        nxt.held_back_by = [t._("the level's condition does not hold: {condition}", condition=level.get("condition"))]
        return nxt
    step = Fraction(1, 10 ** ev.places)
    value = Fraction(threshold["value"])
    needed = value if threshold["op"] == ">=" else (value // step + 1) * step
    nxt.threshold, nxt.op = threshold["value"], threshold["op"]
    missing = needed - score
    if missing <= 0:
        nxt.points_missing = _fixed(Fraction(0), ev.places)
        words = {"override": t._("override"), "cap": t._("cap"), "quota": t._("quota")}
        held = [f"{words.get(s.step, s.step)}: {s.reason}" + (f" ({s.source})" if s.source else "")
                for s in result.rating_steps if s.step != "level"]
        names = [lv["name"] for lv in rating_ev["levels"]]
        first = next((s for s in result.rating_steps if s.step == "level"), None)
        if first is not None and first.to_level in names and names.index(first.to_level) > index:
            held.insert(0, t._("the score meets the threshold, but not the rest of: {condition}",
                               condition=level.get("condition")))
        nxt.held_back_by = held
        return nxt
    nxt.points_missing = _fixed(missing, ev.places, up=True)
    nxt.options = _options(rows, missing, ev, result.score_name or "", t)
    return nxt


def _options(rows: list[dict], missing: Fraction, ev: _Evidence, score: str, t: Lang) -> list[Option]:
    """The criteria with the most room (budget - contribution), each with what alone would close the gap."""
    room = []
    for row in rows:
        if row["kind"] != "criterion" or row["budget"] is None or row["contribution"] is None:
            continue
        budget, got = Fraction(row["budget"]), Fraction(row["contribution"])
        if budget > 0 and budget - got > 0:
            room.append((budget - got, row, budget, got))
    room.sort(key=lambda r: (-r[0], r[1]["path"]))
    out = []
    for space, row, budget, got in room[:OPTIONS_SHOWN]:
        item = ev.items.get((score, row["path"]), {})
        closes = missing <= space
        target = got + missing if closes else budget
        credit = target * 100 / budget
        value_needed = _invert(item.get("scale"), credit) if closes else _invert(item.get("scale"), Fraction(100))
        if closes:
            note = t._("credit {needed} instead of {credit} closes the gap", needed=t.num(_frac(credit, 4, up=True)),
                       credit=t.num(_dec(row["credit"])) or "-")
            if value_needed is None:
                note += ", " + t._("but no value of this criterion earns that credit")
        else:
            note = t._("even full credit adds only {room} points; {short} short", room=t.num(_fixed(space, ev.places)),
                       short=t.num(_fixed(missing - space, ev.places, up=True)))
        out.append(Option(path=row["path"], label=row["label"], contribution=_fixed(got, ev.places),
                          budget=_dec(row["budget"]) or "0", room=_fixed(space, ev.places),
                          credit=_dec(row["credit"]), credit_needed=_frac(credit, 4, up=True),
                          value=row["value_text"] if row.get("value_text") is not None else _dec(row["value"]),
                          value_needed=value_needed, closes_gap=closes, note=note))
    return out


def _fixed(value: Fraction, places: int, up: bool = False, nearest: bool = False) -> str:
    """A fraction as points text with exactly `places` decimals: rounded half up, or up, or down."""
    scaled = value * 10 ** places
    if nearest:
        whole = int((abs(scaled) + Fraction(1, 2)) // 1) * (1 if scaled >= 0 else -1)
    elif up:
        whole = -((-scaled.numerator) // scaled.denominator)
    else:
        whole = scaled.numerator // scaled.denominator
    return decimal_text(Decimal(whole).scaleb(-places), "points")


def _frac(value: Fraction, places: int, up: bool = False) -> str:
    """A fraction as decimal text with at most `places` decimals (rounded up when asked), zeros trimmed."""
    scaled = value * 10 ** places
    whole = -((-scaled.numerator) // scaled.denominator) if up else scaled.numerator // scaled.denominator
    return decimal_text(Decimal(whole).scaleb(-places))


def _invert(scale: dict | None, credit: Fraction) -> str | None:
    """The value that earns `credit` (`value >= x`, `value <= x`, a band or a level), or None if none does."""
    if scale is None:
        return f"value >= {_frac(credit, 4, up=True)}"
    kind = scale.get("kind")
    cap = Fraction(scale["cap"]) if scale.get("cap") else None
    if cap is not None and credit > cap:
        return None
    if kind == "linear":
        return _invert_linear([(Fraction(x), Fraction(y)) for x, y in scale["points"]], bool(scale.get("clamp")),
                              credit)
    if kind == "target":
        try:
            target = Fraction(scale["target"])
        except ValueError:
            return None  # the target comes from data: only the credit can be stated
        return f"value >= {_frac(credit * target / 100, 4, up=True)}"
    if kind == "bands":
        fits = [b for b in scale["bands"] if Fraction(b["points"]) >= credit]
        if not fits:
            return None
        best = min(fits, key=lambda b: Fraction(b["points"]))
        return f"band {best['text']}"
    if kind == "levels":
        fits = [(Fraction(p), name) for name, p in scale["levels"] if Fraction(p) >= credit]
        return f"level {min(fits)[1]}" if fits else None
    if kind == "pass":
        return "true" if Fraction(scale["passed"]) >= credit else None
    return None


def _invert_linear(points: list[tuple[Fraction, Fraction]], clamp: bool, credit: Fraction) -> str | None:
    """Piecewise linear: the least value (rising scale) or greatest value (falling scale) that earns `credit`."""
    rising = points[-1][1] >= points[0][1]
    if not rising:  # mirror x so the scale rises, answer, and mirror back
        found = _least_x([(-x, y) for x, y in reversed(points)], clamp, credit)
        return None if found is None else f"value <= {_frac(-found, 4)}"
    found = _least_x(points, clamp, credit)
    return None if found is None else f"value >= {_frac(found, 4, up=True)}"


def _least_x(points: list[tuple[Fraction, Fraction]], clamp: bool, credit: Fraction) -> Fraction | None:
    (x0, y0), (x1, y1) = points[0], points[1]
    if credit <= y0:
        if clamp or y1 == y0:
            return x0
        return x0 + (credit - y0) * (x1 - x0) / (y1 - y0)
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        if ya < credit <= yb:
            return xa + (credit - ya) * (xb - xa) / (yb - ya)
    (xa, ya), (xb, yb) = points[-2], points[-1]
    if clamp or yb == ya:
        return None  # beyond the last point the credit stays where it is
    return xb + (credit - yb) * (xb - xa) / (yb - ya)


# ---------------------------------------------------------------- text

def render_text(expl: Explanation, t: Lang | None = None) -> str:
    """The explanation as indented lines, in the language `t` (English by default)."""
    t = t or language(None)
    head = f"{expl.framework}" + (f" {expl.framework_version}" if expl.framework_version else "")
    lines: list[str] = [t._("{framework} · period {period} · kpidsl {version}", framework=head, period=expl.period,
                            version=expl.engine_version)]
    for result in expl.results:
        lines.append("")
        lines.extend(_result_lines(result, t))
    return "\n".join(lines) + "\n"


def _at(source: str | None) -> str:
    return f"  ({source})" if source else ""


def _named(name: str, label: str | None) -> str:
    return f'{name} "{label}"' if label else name


def _status(status: str, t: Lang) -> str:
    return {"ok": t._("ok"), "error": t._("error"), "not_scored": t._("not scored"),
            "not_evaluated": t._("not evaluated")}.get(status, status)


def _result_lines(r: Result, t: Lang) -> list[str]:
    n = t.num
    who = r.name + f" ({r.id})" if r.name and r.name != r.id else r.id
    head = (t._("person {who}", who=who) if r.entity == "people" else t._("unit {who}", who=who)
            if r.entity == "units" else f"{r.entity} {who}")
    if r.score_name:
        head += " · " + t._("score {name}", name=_named(r.score_name, r.score_label))
    out = [head + _at(r.source)]
    facts = [t._("status {status}", status=_status(r.status, t))]
    if r.score is not None:
        facts.append(t._("score {score} of {total}", score=n(r.score), total=n(r.total)) if r.total
                     else t._("score {score}", score=n(r.score)))
    if r.rating:
        facts.append(t._("rating {rating}", rating=_named(r.rating, r.rating_label)))
    if r.unit_id:
        unit = r.unit_name + f" ({r.unit_id})" if r.unit_name and r.unit_name != r.unit_id else r.unit_id
        facts.append(t._("unit {unit}", unit=unit) if r.entity == "people" else t._("parent {unit}", unit=unit))
    out.append("  " + " · ".join(facts))
    if r.reason:
        out.append("  " + t._("reason: {reason}", reason=r.reason))
    if r.status == "not_scored" and not r.reason:
        out.append("  " + t._("no score block's `where` holds for it"))
    if r.items:
        parts = " + ".join(f"{i.name} {n(i.contribution)}" for i in r.items if i.kind != "penalty")
        minus = "".join(f" - {i.name} {n(i.contribution)}" for i in r.items if i.kind == "penalty")
        out.append("")
        out.append("  " + t._("score {score} = {parts}", score=n(r.score), parts=parts + minus))
        for item in r.items:
            out.extend(_item_lines(item, 2, t))
    if r.score_expression:
        out.append("")
        out.append(f"  score = {r.score_expression}"
                   + ("; " + t._("not evaluated when {condition}", condition=r.not_evaluated_when)
                      if r.not_evaluated_when else ""))
    if r.periods:
        out.append("")
        out.append("  " + t._("periods:"))
        for p in r.periods:
            out.append(f"    {p.period}: {_status(p.status or '', t)}"
                       + (", " + t._("score {score}", score=n(p.score)) if p.score else "")
                       + (", " + t._("rating {rating}", rating=p.rating) if p.rating else ""))
    if r.rating_steps:
        out.append("")
        out.append(("  " + t._("rating {name}", name=r.rating_name or "")).rstrip())
        words = {"level": t._("level"), "override": t._("override"), "cap": t._("cap"), "quota": t._("quota")}
        width = max(len(w) for w in [*words.values(), t._("final")])
        for s in r.rating_steps:
            move = s.to_level if s.from_level is None else f"{s.from_level} -> {s.to_level}"
            out.append(f"    {words.get(s.step, s.step):<{width}} {move}: {s.reason or ''}{_at(s.source)}")
        if r.rating:
            out.append(f"    {t._('final'):<{width}} {_named(r.rating, r.rating_label)}")
    for q in r.quota:
        if q.resolution == "report":
            verdict = (t._("kept; the breach is reported for a decision") if (q.holders or 0) > (q.allowed or 0)
                       else t._("kept"))
        else:
            verdict = t._("resolved by {rule}: {outcome}", rule=(q.resolution or "").removeprefix("measure "),
                          outcome=t._("kept") if q.outcome == "kept" else t._("moved down one level"))
        out.append("  " + t._("quota on {level} in group {group}: {allowed} allowed, {holders} held it; {verdict}",
                              level=q.level, group=q.group, allowed=q.allowed, holders=q.holders, verdict=verdict))
    if r.at_top:
        out.append("")
        out.append("  " + t._("next rating: already at the best level"))
    elif r.next is not None:
        out.append("")
        out.extend(_next_lines(r.next, t))
    return out


def _policy_words(policy: str, t: Lang) -> str:
    return {"zero": t._("it counts as credit 0"),
            "renormalise": t._("it drops out, and the other items of its block share its weight"),
            "fail": t._("the result is an error"), "skip": t._("it stays missing")}.get(policy, "")


def _item_lines(item: ItemNode, depth: int, t: Lang) -> list[str]:
    n = t.num
    pad = "  " * depth
    inner = pad + "  "
    label = _named(item.name, item.label)
    missing = t._("missing")
    if item.kind in ("bonus", "penalty"):
        sign = "+" if item.kind == "bonus" else "-"
        kind = t._("bonus") if item.kind == "bonus" else t._("penalty")
        lines = [f"{pad}{kind} {label}: {sign}{n(item.contribution)}" + _at(item.source)]
        detail = t._("value {value}", value=n(item.value) if item.value is not None else missing)
        detail += f" = {item.expression}" if item.expression else ""
        detail += ", " + t._("at most {limit}", limit=n(item.limit)) if item.limit else ""
        lines.append(f"{inner}{detail}")
        lines.extend(_measure_lines(item.measures, depth + 2, t))
        return lines
    if item.contribution is None:
        lines = [f"{pad}{label}: " + t._("no points (missing)") + _at(item.source)]
    else:
        lines = [f"{pad}{label}: " + t._("{points} of {budget} points", points=n(item.contribution),
                                         budget=n(item.budget)) + _at(item.source)]
    if item.kind == "group":
        if item.missing_policy:
            lines.append(f"{inner}" + t._("every value missing: policy {policy}", policy=item.missing_policy)
                         + (f", {_policy_words(item.missing_policy, t)}" if _policy_words(item.missing_policy, t)
                            else ""))
        for child in item.children:
            lines.extend(_item_lines(child, depth + 1, t))
        return lines
    value = n(item.value) if item.value is not None else missing
    lines.append(f"{inner}" + t._("value {value}", value=value) + (f" = {item.expression}" if item.expression else ""))
    lines.extend(_measure_lines(item.measures, depth + 2, t))
    if item.missing_policy:
        lines.append(f"{inner}" + t._("value missing: policy {policy}", policy=item.missing_policy)
                     + (f", {_policy_words(item.missing_policy, t)}" if _policy_words(item.missing_policy, t) else ""))
    credit = n(item.credit) if item.credit is not None else "-"
    if item.scale or item.scale_text:
        lines.append(f"{inner}" + (t._("scale {name}", name=item.scale or "")).rstrip()
                     + (f" ({item.scale_text})" if item.scale_text else "") + ": " + t._("credit {credit}",
                                                                                          credit=credit))
    else:
        lines.append(f"{inner}" + t._("no scale: credit = value = {credit}", credit=credit))
    if item.contribution is None or item.budget is None:
        return lines
    share = ""
    if item.share and item.share.startswith("weight"):
        declared = _declared_weight(item.share)
        if declared is not None and item.weight is not None and _rational(Decimal(item.weight)) != declared:
            share = t._("{share}, re-normalised to {weight}, of {budget} points = ", share=item.share,
                        weight=n(item.weight), budget=n(item.parent_budget))
        else:
            share = t._("{share} of {budget} points = ", share=item.share, budget=n(item.parent_budget))
    arithmetic = f"{inner}{share}" + t._("{budget} points × credit {credit} / 100", budget=n(item.budget),
                                         credit=n(item.credit or "0"))
    if item.exact is not None and Decimal(item.exact.rstrip("…")) != Decimal(item.contribution):
        arithmetic += f" = {n(item.exact)}"
    lines.append(f"{arithmetic} → {n(item.contribution)}")
    if item.rounding_note:
        lines.append(f"{inner}({item.rounding_note})")
    return lines


def _declared_weight(share: str) -> Fraction | None:
    """The weight written in the framework (`weight 40%`, `weight 1/3`), as a number."""
    text = share.removeprefix("weight").strip()
    try:
        return Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _measure_lines(measures: list[MeasureNode], depth: int, t: Lang) -> list[str]:
    out = []
    for m in measures:
        rows = ""
        if m.rows_total is not None and m.rows_matched is not None and m.rows_matched != m.rows_total:
            rows = ", " + t._("{matched} of {total} rows matched", matched=m.rows_matched, total=m.rows_total)
        elif m.rows_total is not None:
            rows = ", " + t.n_("{count} row", "{count} rows", m.rows_total)
        value = t.num(m.value) if m.value is not None else t._("missing")
        out.append(f"{'  ' * depth}{m.name} = {value}: {m.expression or ''}{rows}{_at(m.source)}")
        out.extend(_measure_lines(m.measures, depth + 1, t))
    return out


def _needed(text: str, t: Lang) -> str:
    """`value >= 0.9667`, `band …`, `level …` as the language writes them."""
    import re

    for word, shown in (("value ", t._("value")), ("band ", t._("band")), ("level ", t._("level"))):
        if text.startswith(word):
            rest = text[len(word):]
            if t.decimal_mark != ".":
                rest = re.sub(r"(\d)\.(\d)", rf"\1{t.decimal_mark}\2", rest)
            return f"{shown} {rest}"
    return text


def _next_lines(nxt: NextRating, t: Lang) -> list[str]:
    n = t.num
    only_threshold = nxt.threshold is not None and nxt.condition == f"score {nxt.op} {nxt.threshold}"
    cond = " (" + t._("when {condition}", condition=nxt.condition) + ")" if nxt.condition and not only_threshold \
        else ""
    need = (t._("needs score {op} {threshold}", op=nxt.op, threshold=n(nxt.threshold)) if nxt.threshold
            else t._("needs"))
    out = ["  " + t._("next rating: {level} {need}", level=_named(nxt.level, nxt.label), need=need) + cond]
    if nxt.points_missing is not None and Decimal(nxt.points_missing) > 0:
        out.append("    " + t._("{missing} points missing (score {score} now)", missing=n(nxt.points_missing),
                                score=n(nxt.score)))
    elif nxt.held_back_by:
        out.append("    " + t._("the score {score} is enough; held back by:", score=n(nxt.score)))
        out.extend(f"      {why}" for why in nxt.held_back_by)
    if nxt.options:
        out.append("    " + t._("criteria with the most room (each alone, the others unchanged):"))
        for o in nxt.options:
            reach = "; " + t._("needs {value}", value=_needed(o.value_needed, t)) if o.value_needed and o.closes_gap \
                else ""
            out.append(f"      {_named(o.path, o.label)}: "
                       + t._("{points} of {budget} points, room {room}", points=n(o.contribution),
                             budget=n(o.budget), room=n(o.room)) + f": {o.note}{reach}")
    return out
