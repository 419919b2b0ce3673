"""Appraisal sheets: one printable page per person (and per unit) in the layout of the national forms, as HTML
with print CSS and as PDF, read from a run's folder (never recomputing).

A sheet shows who is appraised, the general criteria and the task results item by
item (value, credit, points available and earned), bonuses and penalties, the
score, the rating the score gave, the proposed rating and the reason for any
override, cap or quota that changed it, and the signature blocks. A unit's file
holds the unit's own sheet, then one sheet per member.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kpidsl.i18n import Lang
from kpidsl.i18n import lang as language
from kpidsl.output.tables import EVIDENCE_DIR, FRAMEWORK_EVIDENCE, decimal_text

SHEETS_DIR = "sheets"
FORMATS = ("html", "pdf")


class SheetsError(Exception):
    """The sheets cannot be made as asked; `help` says what to do instead."""

    def __init__(self, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help


@dataclass
class Row:
    number: str
    label: str
    value: str
    credit: str
    budget: str
    points: str
    depth: int = 0
    kind: str = "criterion"


@dataclass
class Section:
    title: str
    rows: list[Row]
    points: str
    budget: str


@dataclass
class Sheet:
    entity: str
    id: str
    name: str
    unit: str
    score_label: str
    status: str
    reason: str
    score: str
    total: str
    by_score: str
    final: str
    changes: list[dict[str, str]]
    sections: list[Section] = field(default_factory=list)


@dataclass
class SheetFile:
    """One output file: a title and its sheets, written as `<stem>.html` and `<stem>.pdf`."""

    stem: str
    title: str
    sheets: list[Sheet]


def _pts(value: Any, places: int, t: Lang) -> str:
    if value is None:
        return ""
    return t.num(decimal_text(Decimal(value).quantize(Decimal(1).scaleb(-places)), "points"))


def _dec(value: Any, t: Lang, places: int = 4) -> str:
    if value is None:
        return ""
    text = decimal_text(Decimal(value).quantize(Decimal(1).scaleb(-places)))
    return t.num(text)


ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


class _Run:
    """A run folder's evidence, read through DuckDB."""

    def __init__(self, folder: str) -> None:
        import duckdb

        from kpidsl.output.manifest import read_manifest

        try:
            self.manifest = read_manifest(folder)
        except ValueError as err:
            raise SheetsError(str(err), "name the folder given as --out to `kpidsl run`") from None
        self.folder = folder
        path = os.path.join(folder, EVIDENCE_DIR, FRAMEWORK_EVIDENCE)
        try:
            with open(path, encoding="utf-8") as fh:
                self.evidence = json.load(fh)
        except (OSError, ValueError) as err:
            raise SheetsError(f"{path}: cannot be read ({err})", "run `kpidsl run` again") from None
        self.places = int(self.evidence.get("rounding", {}).get("places", 2))
        self.con = duckdb.connect()

    def table(self, name: str) -> str:
        path = os.path.join(self.folder, EVIDENCE_DIR, f"{name}.parquet")
        if not os.path.isfile(path):
            raise SheetsError(f"{self.folder}: the evidence file {EVIDENCE_DIR}/{name}.parquet is missing",
                              "run `kpidsl run` again")
        return "read_parquet(" + "'" + path.replace("'", "''") + "')"

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def _levels(evidence: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rating in evidence.get("ratings", []):
        for level in rating["levels"]:
            out.setdefault(level["name"], level.get("label") or level["name"])
    return out


def _sections(items: list[dict[str, Any]], run: _Run, t: Lang) -> list[Section]:
    """Top-level criteria together as the general part, then each top-level group with its items, then
    bonuses and penalties: the parts of the national form."""
    places = run.places
    children: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        children.setdefault(item["parent_path"], []).append(item)

    def row(item: dict[str, Any], number: str, depth: int) -> Row:
        value = item["value_text"] if item.get("value_text") is not None else _dec(item["value"], t)
        sign = "-" if item["kind"] == "penalty" else ""
        return Row(number, item["label"] or item["path"], value, _dec(item["credit"], t, 2),
                   _pts(item["budget"], places, t) if item["kind"] != "bonus" else "",
                   sign + _pts(item["contribution"], places, t), depth, item["kind"])

    def flatten(parent: str, prefix: str, depth: int) -> list[Row]:
        out = []
        for i, item in enumerate(children.get(parent, []), start=1):
            number = f"{prefix}{i}"
            out.append(row(item, number, depth))
            if item["kind"] == "group":
                out.extend(flatten(item["path"], f"{number}.", depth + 1))
        return out

    top = children.get(None, [])
    sections: list[Section] = []
    loose = [i for i in top if i["kind"] == "criterion"]
    if loose:
        sections.append(Section(t._("General criteria"), [row(i, str(n), 0) for n, i in enumerate(loose, 1)],
                                _pts(sum(Decimal(i["contribution"] or 0) for i in loose), places, t),
                                _pts(sum(Decimal(i["budget"] or 0) for i in loose), places, t)))
    for group in (i for i in top if i["kind"] == "group"):
        sections.append(Section(group["label"] or group["path"], flatten(group["path"], "", 0),
                                _pts(group["contribution"], places, t), _pts(group["budget"], places, t)))
    extra = [i for i in top if i["kind"] in ("bonus", "penalty")]
    if extra:
        sections.append(Section(t._("Bonuses and penalties"), [row(i, str(n), 0) for n, i in enumerate(extra, 1)],
                                "", ""))
    for n, section in enumerate(sections):
        section.title = f"{ROMAN[n] if n < len(ROMAN) else n + 1}. {section.title}"
    return sections


def _sheets(run: _Run, entities: list[dict[str, Any]], t: Lang) -> list[Sheet]:
    ids = sorted({e["id"] for e in entities})
    if not ids:
        return []
    items = run.rows(f"SELECT * FROM {run.table('items')} WHERE list_contains($ids, id)", {"ids": ids})
    steps = run.rows(f"SELECT * FROM {run.table('rating_steps')} WHERE list_contains($ids, id) "
                     "AND step <> 'level' AND from_level IS DISTINCT FROM to_level", {"ids": ids})
    order = {(s["name"], i["path"]): n for s in run.evidence.get("scores", []) for n, i in enumerate(s["items"])}
    scores = {s["name"]: s for s in run.evidence.get("scores", [])}
    scores.update({r["name"]: r for r in run.evidence.get("rollups", [])})
    levels = _levels(run.evidence)
    words = {"override": t._("Override"), "cap": t._("Capped: not above another rating"), "quota": t._("Quota")}
    out = []
    for e in entities:
        mine = sorted((i for i in items if i["entity"] == e["entity"] and i["id"] == e["id"]
                       and i["score_name"] == e["score_name"]),
                      key=lambda i: (order.get((e["score_name"], i["path"]), 10 ** 6), i["path"]))
        changes = [{"step": words.get(s["step"], s["step"]), "from": levels.get(s["from_level"], s["from_level"] or ""),
                    "to": levels.get(s["to_level"], s["to_level"] or ""), "reason": s["reason"] or "",
                    "source": f"{s['file']}:{s['line']}" if s["file"] else ""}
                   for s in steps if s["entity"] == e["entity"] and s["id"] == e["id"]
                   and s["score_name"] == e["score_name"]]
        decl = scores.get(e["score_name"] or "", {})
        final = levels.get(e["rating"], e["rating_label"] or e["rating"] or "") if e["rating"] else ""
        before = e["rating_before"] or e["rating"]
        out.append(Sheet(
            entity=e["entity"], id=e["id"], name=e.get("name") or e["id"],
            unit=(e.get("unit_name") or e["unit_id"] or ""), score_label=decl.get("label") or e["score_name"] or "",
            status=e["status"], reason=e["reason"] or "", score=_pts(e["score"], run.places, t),
            total=t.num(decl.get("total", "100")) if decl.get("total") else "",
            by_score=levels.get(before, before or "") if before else "", final=final, changes=changes,
            sections=_sections(mine, run, t)))
    return out


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_stem(text: str) -> str:
    """A file name from an id: only letters, digits, `_`, `.` and `-` (ids are data: `../x` stays inside)."""
    stem = _UNSAFE.sub("_", text).lstrip(".") or "_"
    return stem[:100]


def sheet_files(folder: str, entity_id: str | None = None, unit: str | None = None,
                t: Lang | None = None) -> tuple[list[SheetFile], _Run, Lang]:
    """The files to write: one person (`entity_id`), one unit and its members (`unit`), or every unit."""
    run = _Run(folder)
    t = t or language(run.evidence.get("language"))
    ents = run.table("entities")
    try:
        if entity_id is not None:
            found = run.rows(f"SELECT * FROM {ents} WHERE id = $id ORDER BY entity, score_name NULLS FIRST",
                             {"id": entity_id})
            if not found:
                raise SheetsError(f"no result for id {entity_id!r} in {folder}",
                                  "ids are the keys of the people and units inputs, exactly as in the data")
            return [SheetFile(file_stem(entity_id), found[0].get("name") or entity_id, _sheets(run, found, t))], run, t
        units = run.rows(f"SELECT * FROM {ents} WHERE entity = 'units' "
                         + ("AND id = $u " if unit is not None else "")
                         + "ORDER BY id, score_name NULLS FIRST", {"u": unit} if unit is not None else {})
        if unit is not None and not units:
            raise SheetsError(f"no unit {unit!r} in {folder}", "name a unit by its key, exactly as in the data")
        files = []
        for u in units:
            members = run.rows(f"SELECT * FROM {ents} WHERE entity = 'people' AND unit_id = $u "
                               "ORDER BY id, score_name NULLS FIRST", {"u": u["id"]})
            files.append(SheetFile(file_stem(u["id"]), u.get("name") or u["id"], _sheets(run, [u, *members], t)))
        return files, run, t
    except SheetsError:
        run.con.close()
        raise


def render_sheets(file: SheetFile, run: _Run, t: Lang) -> str:
    from kpidsl.output.report import environment

    m = run.manifest
    return environment(t).get_template("sheets.html.j2").render(
        f=file, m=m, title=run.evidence.get("title") or m.framework.title or m.framework.id)


def write_pdf(html: str, path: str) -> None:
    """The HTML as PDF through WeasyPrint (no network: nothing is fetched)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # OSError: the Pango library is missing
        raise SheetsError(f"cannot make PDF files here ({str(err).splitlines()[0]})",
                          "install WeasyPrint and its Pango library, or write --format html and print it "
                          "from a browser") from None

    def refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"fetching {url} is not allowed")

    HTML(string=html, url_fetcher=refuse).write_pdf(path, pdf_identifier=b"kpidsl", uncompressed_pdf=False)


def write_sheets(folder: str, entity_id: str | None = None, unit: str | None = None, to: str | None = None,
                 formats: tuple[str, ...] = FORMATS, lang: str | None = None) -> list[str]:
    """Write the sheets asked for; returns the paths written."""
    files, run, t = sheet_files(folder, entity_id, unit, language(lang) if lang else None)
    target = to or os.path.join(folder, SHEETS_DIR)
    try:
        os.makedirs(target, exist_ok=True)
        written = []
        for file in files:
            html = render_sheets(file, run, t)
            for fmt in formats:
                path = os.path.join(target, f"{file.stem}.{fmt}")
                tmp = path + ".tmp"
                if fmt == "html":
                    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                        fh.write(html)
                else:
                    write_pdf(html, tmp)
                os.replace(tmp, path)  # a reader never sees half a file
                written.append(path)
        return written
    finally:
        run.con.close()
