"""A diff as text for a terminal, Markdown for a pull request, JSON (version 1), or GitHub annotations.

Framework text is untrusted: the text form shows control characters as `�`,
Markdown escapes everything it quotes, and annotations escape GitHub's own
markers. Markdown never quotes a test's rows (they may hold personal data) and
stays within GitHub's 65,536-character comment limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from kpidsl.diagnostics import to_json_obj
from kpidsl.versions.compare import ADDED, MOVED, REMOVED, Affect, Change, exact_text, points_text
from kpidsl.versions.diff import DiffResult, FrameworkDiff
from kpidsl.versions.model import CLASSES
from kpidsl.versions.points import exact, fixed, signed

JSON_VERSION = 1
ACTION_WORDS = {ADDED: "add", REMOVED: "remove", "~": "change", MOVED: "move"}
GITHUB_COMMENT_LIMIT = 65_536
_SECTIONS = (("header", "header"), ("input", "inputs"), ("field", "inputs"), ("entities", "people and units"),
             ("measure", "measures"), ("scale", "scales"), ("score", None), ("item", None), ("rating", None),
             ("level", None), ("override", None), ("cap", None), ("quota", None), ("rollup", "roll-ups"),
             ("require", "rules for extending frameworks"), ("test", "tests"))


# ---------------------------------------------------------------- shared pieces

def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " if ch == "\t" else "\ufffd" for ch in text)


def _name(change: Change) -> str:
    """How a change names its rule inside its section: `results.a_quantity`, `good`, `budget_bands`."""
    e = change.entry
    if e.kind == "item":
        return ".".join((*e.parent, e.name or ""))
    if e.kind in ("level", "quota", "override", "cap"):
        return change.key.split(" / ", 1)[1].removeprefix("level ")
    if e.kind == "field":
        return change.key.removeprefix("input ")
    if e.kind in ("header", "entities"):
        return change.key
    return change.key.split(" ", 1)[1] if " " in change.key else change.key


def _section(change: Change) -> str:
    """The heading a change is listed under: `score staff`, `rating national`, `measures`, ..."""
    e = change.entry
    if e.kind in ("score", "item"):
        return f"score {e.score or e.name}"
    if e.kind in ("rating", "level", "override", "cap", "quota"):
        return f"rating {e.score or e.name}"
    return dict((k, v) for k, v in _SECTIONS if v)[e.kind]


def _section_head(d: FrameworkDiff, section: str) -> str:
    kind, _, name = section.partition(" ")
    if kind == "score" and name:
        model = d.new_model if d.new_model and f"score {name}" in d.new_model.entries else d.old_model
        entry = model.entries.get(f"score {name}") if model else None
        if entry is not None:
            return f"score {name} ({entry.fields['entity'].text}), total {entry.fields['total'].text}"
    return section


def _field_words(change: Change) -> list[str]:
    """Each changed field as `name old → new`, points left to the points column."""
    out = []
    for name, (old, new) in change.fields.items():
        if name == "points" or name == "after" and change.kind == "score":
            continue
        if name == "function" or name == "scale" and change.details and not _named_scale(change):
            continue  # a scale is shown as the values whose credit changed (the details)
        if name == "share" and old and new and old.split(" ")[0] == new.split(" ")[0]:
            out.append(f"{old} → {new.split(' ', 1)[1]}")
        elif name == "condition" and change.kind == "level":
            out.append(f"{old} → {new}")
        elif name in ("locked",):
            out.append(f"{'locked' if new == 'True' else 'unlocked'} (was {'locked' if old == 'True' else 'not'})")
        elif name == "label":
            out.append(f"label \"{old or ''}\" → \"{new or ''}\"")
        elif name == "parent":
            out.append(f"moved from {old} to {new}")
        else:
            out.append(f"{name} {old or 'none'} → {new or 'none'}")
    if change.kind == "score" and "after" in change.fields:
        old, new = change.fields["after"]
        out.append(f"tried after: {old} → {new}")
    return out


def _named_scale(change: Change) -> bool:
    return change.new is not None and change.new.fields["scale"].key.name is not None


def _where(change: Change, shown: Callable[[str], str]) -> str:
    span = change.source
    return f"{shown(span.file)}:{span.line}" if span is not None else ""


def _places(d: FrameworkDiff) -> int:
    return max(d.old_model.places if d.old_model else 2, d.new_model.places if d.new_model else 2)


def _item_points(change: Change, places: int) -> str:
    pts = change.points
    if pts is None or change.kind == "score" and change.action not in (ADDED, REMOVED) and "total" not in change.fields:
        return ""
    text = points_text(*pts, places=places)
    old, new = change.old, change.new
    if change.kind == "item" and old and new and old.total != new.total and None not in (*pts, old.total, new.total):
        # The scores' totals differ (100 → 120): the share of the total tells more than the points.
        text += f"; share {fixed(pts[0] * 100 / old.total, places)}% → {fixed(pts[1] * 100 / new.total, places)}%"
    return text


def _affects(affects: list[Affect], places: int) -> str:
    parts = []
    for a in affects:
        name = (a.shown or a.key).removeprefix("score ")
        parts.append(f"{name} ({fixed(a.points, places)} points)" if a.points is not None else f"{name} ({a.what})")
    return ", ".join(parts)


def _detail_points(points: list[tuple[str, str, Fraction]], places: int) -> str:
    return ", ".join(f"{signed(delta, places)} points on {shown}" for _key, shown, delta in points)


def _edit_number(c: Change) -> int:
    return int(c.edit[1:]) if c.edit[1:].isdigit() else 0


def _grouped(changes: list[Change]) -> Iterator[tuple[str, list[Change]]]:
    """Sections in the order of their first edit (NEW's file order); in each, the rule itself first."""
    sections: dict[str, list[Change]] = {}
    for c in changes:
        sections.setdefault(_section(c), []).append(c)
    firsts = {s: min((_edit_number(c), c.key) for c in cs) for s, cs in sections.items()}
    for s in sorted(sections, key=lambda k: firsts[k]):
        yield s, sorted(sections[s], key=lambda c: (c.kind not in ("score", "rating"), _edit_number(c),
                                                    c.source.start if c.source is not None else 0, c.key))


def _version(framed) -> str:
    root = framed.program.root
    text = root.version or "(no version)"
    return text + (f" (effective {root.effective})" if root.effective else "")


def _title(d: FrameworkDiff) -> str:
    if d.old is None:
        return f"framework {d.id}  added: {_version(d.new)}"
    if d.new is None:
        return f"framework {d.id}  removed: {_version(d.old)}"
    before, after = _version(d.old), _version(d.new)
    return f"framework {d.id}  {before}" if before == after else f"framework {d.id}  {before} → {after}"


def summary_line(d: FrameworkDiff) -> str:
    if d.status in ("added", "removed"):
        return f"the whole framework is {d.status}"
    hidden = f"{d.hidden} cosmetic hidden"
    if not d.edits:
        return f"no semantic change; {hidden}"
    counts = {k: 0 for k in CLASSES}
    for e in d.edits:
        for k in e.classes:
            counts[k] += 1
    by_class = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    titles = ", ".join(f"{e.id} {e.title}" for e in d.edits[:12]) + (", …" if len(d.edits) > 12 else "")
    bundles = f"; {_count(len(d.bundles), 'bundle')}" if len(d.bundles) != len(d.edits) else ""
    return f"{len(d.edits)} edit{'s' if len(d.edits) != 1 else ''} ({titles}): {by_class}{bundles}; {hidden}"


# ---------------------------------------------------------------- text

def render_text(result: DiffResult, color: bool = False) -> str:
    import click

    marks = {ADDED: "green", REMOVED: "red", "~": "yellow", MOVED: "blue"}

    def mark(action: str) -> str:
        return click.style(action, fg=marks[action], bold=True) if color else action

    lines = [f"warning: {w}" for w in result.warnings]
    for d in result.frameworks:
        if lines:
            lines.append("")
        lines.append(_title(d))
        places = _places(d)
        inherited = [c for c in d.changes if c.key in d.inherited]
        own = [c for c in d.changes if c.key not in d.inherited]
        for section, changes in _grouped(own):
            lines.append("")
            lines.append(_section_head(d, section))
            lines.extend(_text_changes(changes, places, lambda c, r=result: r.old.shown if c.action == REMOVED
                                       else r.new.shown, mark))
        if inherited:
            origins = sorted(set(d.inherited.values()))
            lines.append("")
            lines.append(f"{len(inherited)} change{'s' if len(inherited) != 1 else ''} inherited from "
                         f"{', '.join(origins)} (listed under it): "
                         + ", ".join(sorted({c.edit for c in inherited}, key=lambda e: int(e[1:]))))
        lines.append("")
        lines.append(summary_line(d))
    if result.diagnostics:
        errors = sum(x.is_error for x in result.diagnostics)
        lines.append("")
        lines.append(f"NEW has {_count(errors, 'error')} and {_count(len(result.diagnostics) - errors, 'warning')} "
                     "from `kpidsl check`:")
        lines.extend(_check_lines(result))
    return "\n".join(_printable(line) for line in lines) + "\n"


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _check_lines(result: DiffResult) -> list[str]:
    out = []
    for x in result.diagnostics:
        span = x.span
        out.append(f"  {result.new.shown(span.file)}:{span.line}:{span.column}: {x.severity}[{x.code}]: {x.message}")
    return out


def _text_changes(changes: list[Change], places: int, shown_for, mark, depth: int = 1) -> list[str]:
    lines = []
    rows = []
    for c in changes:
        label = f" \"{c.entry.label}\"" if c.entry.label else ""
        head = f"{mark(c.action)} {_name(c)}{label}"
        parts = [p for p in (_item_points(c, places), *_field_words(c)) if p]
        tail = f"{_where(c, shown_for(c))}  [{c.edit}]" if c.edit else _where(c, shown_for(c))
        rows.append((c, head, len(_name(c)) + len(label) + 2, parts, tail))
    width = max((w for _, _, w, _, _ in rows), default=0)
    pad = "  " * depth
    for c, head, w, parts, tail in rows:
        middle = "   ".join(parts)
        line = f"{pad}{head}{' ' * (width - w)}   {middle}{'   ' if middle else ''}{tail}"
        if c.hint:
            line += f"   ({c.hint})"
        lines.append(line.rstrip())
        pts = c.points
        if pts is not None and (extra := exact_text(*pts)):
            lines.append(f"{pad}      exact: {extra} points")
        for detail in c.details:
            more = _detail_points(detail.points, places)
            lines.append(f"{pad}      {detail.text}" + (f" = {more}" if more else ""))
        if c.affects:
            lines.append(f"{pad}      affects {_affects(c.affects, places)}")
        for f in c.folded:
            lines.append(f"{pad}      {_name(f)}  {_item_points(f, places)}".rstrip())
            for g in f.folded:
                lines.append(f"{pad}        {_name(g)}  {_item_points(g, places)}".rstrip())
    return lines


# ---------------------------------------------------------------- markdown

def _md(text: str | None) -> str:
    """Text quoted into Markdown: every character GitHub could read as markup is escaped."""
    if not text:
        return ""
    out = []
    for ch in _printable(" ".join(text.split())):
        if ch in "<>&":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}[ch])
        elif ch in "\\`*_[]|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def render_markdown(result: DiffResult, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    total = sum(len(d.edits) for d in result.frameworks)
    changed = [d for d in result.frameworks if d.status != "same"]
    head = [f"### kpidsl diff: {total} edit{'s' if total != 1 else ''} in {len(changed)} "
            f"framework{'s' if len(changed) != 1 else ''}", ""]
    head += [f"> warning: {_md(w)}" for w in result.warnings]
    errors = sum(x.is_error for x in result.diagnostics)
    if result.diagnostics:
        head += ["", f"**NEW has {errors} error{'s' if errors != 1 else ''} from `kpidsl check`**", ""]
        for x in result.diagnostics[:50]:
            span = x.span
            head.append(f"- {_md(result.new.shown(span.file))}:{span.line}: {x.severity} {x.code}: {_md(x.message)}")
        head.append("")
    blocks = [_md_framework(result, d) for d in result.frameworks]
    footer = "\n_The full list, with every figure: `kpidsl diff OLD NEW --format json`._\n"
    out = "\n".join(head) + "\n"
    cut = "\n_… cut here to fit a GitHub comment; see the full diff with `--format json`._\n"
    for block in blocks:
        if len(out) + len(block) + len(footer) + len(cut) > limit:
            out += cut
            break
        out += block
    return out + footer


def _md_framework(result: DiffResult, d: FrameworkDiff) -> str:
    title = _md(_title(d).replace("  ", " "))
    if d.status == "same":
        return f"- {title}: no semantic change ({d.hidden} cosmetic hidden)\n"
    places = _places(d)
    lines = ["<details" + (" open" if d.status == "changed" else "") + f"><summary>{title}: "
             f"{_md(summary_line(d))}</summary>", ""]
    own = [c for c in d.changes if c.key not in d.inherited]
    for section, changes in _grouped(own):
        lines += [f"**{_md(_section_head(d, section))}**", "", "| | rule | points | change | where | edit |",
                  "|---|---|---|---|---|---|"]
        for c in changes:
            shown = result.old.shown if c.action == REMOVED else result.new.shown
            words = [_md(w) for w in _field_words(c)]
            words += [_md(x.text) + (" = " + _md(_detail_points(x.points, places)) if x.points else "")
                      for x in c.details]
            if c.affects:
                words.append("affects " + _md(_affects(c.affects, places)))
            words += [_md(f"{_name(f)} {_item_points(f, places)}") for f in c.folded]
            if c.hint:
                words.append(f"_{_md(c.hint)}_")
            label = f" {_md(c.entry.label)}" if c.entry.label else ""
            pts = _md(_item_points(c, places))
            if c.points is not None and (extra := exact_text(*c.points)):
                pts += f" (exact {_md(extra)})"
            lines.append(f"| {_md(c.action)} | {_md(_name(c))}{label} | {pts} | {'<br>'.join(words)} | "
                         f"{_md(_where(c, shown))} | {c.edit} |")
        lines.append("")
    inherited = [c for c in d.changes if c.key in d.inherited]
    if inherited:
        lines += [f"{len(inherited)} changes inherited from {_md(', '.join(sorted(set(d.inherited.values()))))} "
                  "(listed under it).", ""]
    lines += ["</details>", ""]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- json

def _num(value: Fraction | None) -> dict[str, str] | None:
    """An exact number: its decimal (rounded to 12 places when it does not end) and its exact form."""
    if value is None:
        return None
    return {"decimal": fixed(value, 12).rstrip("0").rstrip(".") if value.denominator != 1 else str(value.numerator),
            "exact": exact(value)}


def _span_json(span, shown) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": shown(span.file), "line": span.line, "column": span.column}


def _change_json(c: Change, result: DiffResult, d: FrameworkDiff) -> dict[str, Any]:
    pts = c.points
    points = None
    if pts is not None:
        old, new = pts
        points = {"old": _num(old), "new": _num(new),
                  "delta": _num(new - old) if old is not None and new is not None else None}
    return {
        "id": c.edit, "bundle": c.bundle, "key": c.key, "kind": c.kind, "action": ACTION_WORDS[c.action],
        "classes": list(c.classes),
        "fields": {k: {"old": o, "new": v} for k, (o, v) in c.fields.items()},
        "points": points,
        "old_source": _span_json(c.old.span if c.old else None, result.old.shown),
        "new_source": _span_json(c.new.span if c.new else None, result.new.shown),
        "affects": [{"key": a.key, "what": a.what, "points": _num(a.points)} for a in c.affects],
        "details": [{"text": x.text, "points": [{"key": k, "delta": _num(v)} for k, _, v in x.points]}
                    for x in c.details],
        "folded": [_change_json(f, result, d) for f in c.folded],
        "hint": c.hint,
        "inherited_from": d.inherited.get(c.key),
    }


def _side_json(side, framed) -> dict[str, Any] | None:
    if framed is None:
        return None
    root = framed.program.root
    files = []
    for path in framed.program.files:
        import hashlib

        try:
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            digest = None
        files.append({"path": side.shown(path), "sha256": digest})
    return {"spec": side.spec, "id": root.id, "version": root.version,
            "effective": root.effective.isoformat() if root.effective else None,
            "root": side.shown(framed.root), "files": files}


def render_json(result: DiffResult) -> str:
    frameworks = []
    totals: dict[str, Any] = {"edits": 0, "changes": 0, "cosmetic_hidden": 0, "by_action": {}, "by_class": {}}
    for d in result.frameworks:
        by_action: dict[str, int] = {}
        by_class: dict[str, int] = {}
        for c in d.changes:
            by_action[ACTION_WORDS[c.action]] = by_action.get(ACTION_WORDS[c.action], 0) + 1
            for k in c.classes:
                by_class[k] = by_class.get(k, 0) + 1
        for k, v in by_action.items():
            totals["by_action"][k] = totals["by_action"].get(k, 0) + v
        for k, v in by_class.items():
            totals["by_class"][k] = totals["by_class"].get(k, 0) + v
        totals["edits"] += len(d.edits)
        totals["changes"] += len(d.changes)
        totals["cosmetic_hidden"] += d.hidden
        frameworks.append({
            "id": d.id, "status": d.status,
            "old": _side_json(result.old, d.old), "new": _side_json(result.new, d.new),
            "summary": {"edits": len(d.edits), "changes": len(d.changes), "by_action": by_action,
                        "by_class": by_class, "cosmetic_hidden": d.hidden},
            "edits": [{"id": e.id, "title": e.title, "bundle": e.bundle, "classes": list(e.classes),
                       "changes": [c.key for c in e.changes]} for e in d.edits],
            "bundles": [{"id": b.id, "edits": b.edits} for b in d.bundles],
            "changes": [_change_json(c, result, d) for c in d.changes],
        })
    diagnostics = []
    for x in result.diagnostics:
        obj = to_json_obj(x)
        obj["file"] = result.new.shown(obj["file"])
        diagnostics.append(obj)
    doc = {"version": JSON_VERSION, "old": {"spec": result.old.spec, "kind": result.old.kind},
           "new": {"spec": result.new.spec, "kind": result.new.kind}, "warnings": result.warnings,
           "summary": totals, "frameworks": frameworks, "diagnostics": diagnostics}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- github

def _gh(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(result: DiffResult) -> str:
    """A `::notice` at each changed line of NEW (removals have no line there: the summary lists them)."""
    lines = []
    for d in result.frameworks:
        places = _places(d)
        for c in d.changes:
            if c.key in d.inherited or c.new is None or c.new.span is None:
                continue
            span = c.new.span
            words = [p for p in (_item_points(c, places), *_field_words(c)) if p]
            words += [x.text for x in c.details]
            message = f"{c.action} {c.key}" + (f": {'; '.join(words)}" if words else "")
            props = (f"file={_gh(result.new.shown(span.file), True)},line={span.line},"
                     f"title={_gh(f'kpidsl diff {d.id} {c.edit}', True)}")
            lines.append(f"::notice {props}::{_gh(_printable(message))}")
    for x in result.diagnostics:
        span = x.span
        kind = "error" if x.is_error else "warning"
        lines.append(f"::{kind} file={_gh(result.new.shown(span.file), True)},line={span.line},col={span.column},"
                     f"title={_gh(x.code, True)}::{_gh(x.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
