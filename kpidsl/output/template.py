"""Data templates: one empty file per input a framework reads, headed by the fields' labels, with the allowed
values as drop-downs and the bounds as checks (XLSX), and instructions saying what each column takes.

`kpidsl run` reads such a file as it is: a column headed by a field's label is that field's column.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Any

from kpidsl.i18n import Lang
from kpidsl.output.sheets import file_stem
from kpidsl.syntax import nodes as n

FORMATS = ("xlsx", "csv")
INSTRUCTIONS = "instructions"
VALIDATED_ROWS = 5000
"""Data rows of a template sheet that carry the drop-downs and checks."""


@dataclass(frozen=True)
class ColumnHelp:
    header: str
    name: str
    type: str
    required: str
    allowed: str
    default: str
    note: str


def _type_words(f: n.Field, t: Lang, decimal_comma: bool, day_first: bool) -> str:
    base = f.type.base
    if base == "number":
        return t._("number, like 12 or 0,5 or 25%") if decimal_comma else t._("number, like 12 or 0.5 or 25%")
    if base == "integer":
        return t._("whole number")
    if base == "bool":
        return t._("true or false")
    if base == "date":
        return t._("date, DD/MM/YYYY or YYYY-MM-DD") if day_first else t._("date, YYYY-MM-DD")
    if base == "enum":
        return t._("one of the listed values")
    if base == "ref":
        return t._("the key of a row of {input}", input=f.type.ref)
    return t._("text")


def _bounds(f: n.Field, t: Lang) -> str:
    from kpidsl.output.tables import num_text

    parts = [f"{b.op} {t.num(num_text(b.value.value))}" for b in f.type.bounds]
    return ", ".join(parts)


def column_help(inp: n.Input, t: Lang, decimal_comma: bool = False, day_first: bool = False) -> list[ColumnHelp]:
    from kpidsl.output.tables import source_text

    out = []
    for f in inp.fields:
        required = (not f.type.optional or f.name == inp.key or f.name == inp.period_by) and f.default is None
        notes = []
        if f.name == inp.key:
            notes.append(t._("the key: one row each, never repeated"))
        if f.name == inp.period_by:
            notes.append(t._("places the row in a period"))
        if f.name == inp.display:
            notes.append(t._("the name shown for the row"))
        allowed = ", ".join(f.type.values) if f.type.base == "enum" else _bounds(f, t)
        if f.type.base == "bool":
            allowed = "true, false"
        out.append(ColumnHelp(f.label or f.name, f.name, _type_words(f, t, decimal_comma, day_first),
                              t._("yes") if required else t._("no"), allowed,
                              source_text(f.default) if f.default is not None else "", "; ".join(notes)))
    return out


def write_templates(program: Any, out: str, fmt: str, t: Lang) -> list[str]:
    """One file per input of `program` in `out` (and, for CSV, an instructions file); returns the paths."""
    decimal_comma = program.root.decimal == "comma"
    day_first = program.root.dates == "dd/mm/yyyy"
    os.makedirs(out, exist_ok=True)
    written = []
    helps = {name: column_help(inp, t, decimal_comma, day_first) for name, inp in program.inputs.items()}
    for name, inp in program.inputs.items():
        path = os.path.join(out, f"{file_stem(name)}.{fmt}")
        if fmt == "xlsx":
            _write_xlsx(path, inp, helps[name], t, decimal_comma)
        else:
            with open(path, "w", encoding="utf-8-sig", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerow([h.header for h in helps[name]])
        written.append(path)
    if fmt == "csv":
        path = os.path.join(out, f"{INSTRUCTIONS}.csv")
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow([t._("File"), t._("Column"), t._("Field"), t._("Type"), t._("Required"), t._("Allowed values"),
                        t._("Default"), t._("Note")])
            for name, rows in helps.items():
                for h in rows:
                    w.writerow([f"{file_stem(name)}.csv", h.header, h.name, h.type, h.required, h.allowed, h.default,
                                h.note])
        written.append(path)
    return written


def _write_xlsx(path: str, inp: n.Input, helps: list[ColumnHelp], t: Lang, decimal_comma: bool) -> None:
    import datetime

    import xlsxwriter

    book = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False,
                                      "strings_to_numbers": False})
    book.set_properties({"created": datetime.datetime(1980, 1, 1), "author": "kpidsl", "title": inp.label or inp.name})
    head = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EDF3", "border": 1})
    date_fmt = book.add_format({"num_format": "dd/mm/yyyy"})
    text_fmt = book.add_format({"num_format": "@"})
    title = (inp.label or inp.name)[:31].translate(str.maketrans("[]:*?/\\", "_______")).strip("'") or inp.name
    guide_title = t._("Instructions")[:31]
    if title.casefold() == guide_title.casefold():
        title = title[:27] + " (1)"  # two sheets may not share a name
    sheet = book.add_worksheet(title)
    last = VALIDATED_ROWS
    for col, (f, h) in enumerate(zip(inp.fields, helps)):
        width = min(max(len(h.header), 12) + 2, 40)
        base = f.type.base
        sheet.set_column(col, col, width, date_fmt if base == "date" else text_fmt if base in ("text", "ref") else None)
        sheet.write_string(0, col, h.header, head)
        sheet.write_comment(0, col, f"{h.name}: {h.type}" + (f" ({h.allowed})" if h.allowed else "")
                            + (f"; {h.note}" if h.note else ""))
        check = _validation(f, t)
        if check is not None:
            sheet.data_validation(1, col, last, col, check)
    sheet.set_row(0, 32)
    sheet.freeze_panes(1, 0)
    guide = book.add_worksheet(guide_title)
    guide.set_column(0, 0, 36)
    guide.set_column(1, 1, 18)
    guide.set_column(2, 2, 34)
    guide.set_column(3, 4, 12)
    guide.set_column(5, 6, 24)
    guide.set_column(7, 7, 40)
    guide.write_string(0, 0, t._("Fill one row per {what}, from row 2 of the first sheet; keep the header row.",
                                 what=inp.label or inp.name))
    heads = [t._("Column"), t._("Field"), t._("Type"), t._("Required"), t._("Default"), t._("Allowed values"),
             t._("Note")]
    for col, text in enumerate(heads):
        guide.write_string(2, col, text, head)
    for row, h in enumerate(helps, start=3):
        for col, text in enumerate((h.header, h.name, h.type, h.required, h.default, h.allowed, h.note)):
            guide.write_string(row, col, text)
    book.close()


def _validation(f: n.Field, t: Lang) -> dict[str, Any] | None:
    """The spreadsheet check of a field: a drop-down of its values, or its bounds."""
    from kpidsl.output.tables import num_text

    base = f.type.base
    if base == "enum" and f.type.values:
        return {"validate": "list", "source": list(f.type.values),
                "error_message": t._("Choose one of: {values}", values=", ".join(f.type.values))}
    if base == "bool":
        return {"validate": "list", "source": ["true", "false"]}
    if base in ("number", "integer") and f.type.bounds:
        kind = "decimal" if base == "number" else "integer"
        low = next((b for b in f.type.bounds if b.op in (">=", ">")), None)
        high = next((b for b in f.type.bounds if b.op in ("<=", "<")), None)
        message = t._("Must be {bounds}", bounds=", ".join(f"{b.op} {num_text(b.value.value)}" for b in f.type.bounds))
        if low is not None and high is not None:
            return {"validate": kind, "criteria": "between", "minimum": _number(low.value.value),
                    "maximum": _number(high.value.value), "error_message": message}
        bound = low or high
        assert bound is not None
        return {"validate": kind, "criteria": bound.op, "value": _number(bound.value.value), "error_message": message}
    if base == "integer":
        return {"validate": "integer", "criteria": ">=", "value": -(2 ** 31)}
    if base == "date":
        return {"validate": "date", "criteria": ">=", "value": datetime_min()}
    return None


def _number(value: Any) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def datetime_min() -> Any:
    import datetime

    return datetime.date(1900, 1, 1)
