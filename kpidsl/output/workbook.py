"""results.xlsx: one sheet per output table with a labelled header, frozen panes, filters, widths and
number formats, and a sheet that explains every column (written with xlsxwriter)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kpidsl.i18n import Lang
from kpidsl.output.columns import ColumnInfo, column_infos

XLSX_MAX_ROWS = 1_048_574  # a sheet's rows, less the two header rows
XLSX_MAX_TEXT = 32_767     # characters a cell holds
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FIXED = datetime.datetime(1980, 1, 1)  # the workbook's properties: never the clock
_WIDTH_SAMPLE = 200
_MAX_WIDTH = 48


class TooManyRows(Exception):
    """A table longer than a sheet; the message says which."""


def xlsx_text(value: str) -> str:
    """Text a cell can hold: control characters XML cannot carry become �, and it fits a cell."""
    text = _ILLEGAL_XML.sub("\ufffd", value)
    return text if len(text) <= XLSX_MAX_TEXT else text[:XLSX_MAX_TEXT - 1] + "…"


def list_text(value: list[Any] | None) -> str:
    """A list (the ids a quota kept or moved) as text a person reads: `p2, p3`."""
    return ", ".join(str(v) for v in value or [])


def write_workbook(con: Any, tables: Sequence[Any], path: str, places: int, evidence: dict[str, Any], t: Lang,
                   tmpdir: str, batch: int = 10_000) -> None:
    """Every table (OutTable) as a sheet, then the `columns` sheet; rows streamed in constant memory."""
    import xlsxwriter

    counts = {}
    for table in tables:
        count = con.execute(f"SELECT count(*) FROM ({table.typed_sql(places)})", table.params or None).fetchall()[0][0]
        if count > XLSX_MAX_ROWS:
            raise TooManyRows(f"{table.name} has {count:,} rows, more than a spreadsheet holds "
                              f"({XLSX_MAX_ROWS:,}); leave out xlsx and use csv or parquet")
        counts[table.name] = count
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tmpdir, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    book.set_properties({"created": _FIXED, "author": "kpidsl", "title": evidence.get("title") or ""})
    fmt = _Formats(book, places)
    every: list[ColumnInfo] = []
    for table in tables:
        infos = column_infos(table.name, [c.name for c in table.cols], evidence, t)
        every.extend(infos)
        _sheet(con, book, table, infos, counts[table.name], places, fmt, batch)
    _columns_sheet(book, every, fmt, t)
    book.close()


class _Formats:
    def __init__(self, book: Any, places: int) -> None:
        self.label = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EDF3",
                                      "border": 1})
        self.name = book.add_format({"font_color": "#5A6472", "italic": True, "border": 1, "bg_color": "#F4F6F8"})
        self.points = book.add_format({"num_format": "0." + "0" * places if places else "0"})
        self.dec = book.add_format({"num_format": "General"})
        self.int = book.add_format({"num_format": "0"})
        self.text = book.add_format({})


def _sheet(con: Any, book: Any, table: Any, infos: list[ColumnInfo], count: int, places: int, fmt: _Formats,
           batch: int) -> None:
    sheet = book.add_worksheet(table.name[:31])
    shows = [c.show for c in table.cols]
    cursor = con.execute(table.typed_sql(places), table.params or None)
    first = cursor.fetchmany(min(batch, _WIDTH_SAMPLE))
    for i, (info, show) in enumerate(zip(infos, shows)):
        sample = [len(_shown(row[i], show)) for row in first]
        width = max([len(info.name), min(len(info.label), 28), *sample, 6]) + 2
        cell = {"points": fmt.points, "dec": fmt.dec, "int": fmt.int}.get(show, fmt.text)
        sheet.set_column(i, i, min(width, _MAX_WIDTH), cell)
    sheet.set_row(0, 45)
    # Row by row: in constant-memory mode a row is written out once the next one starts.
    for i, info in enumerate(infos):
        sheet.write_string(0, i, xlsx_text(info.label), fmt.label)
    for i, info in enumerate(infos):
        sheet.write_string(1, i, info.name, fmt.name)
    frozen_cols = 2 if [c.name for c in table.cols[:2]] == ["id", "name"] else 0
    sheet.freeze_panes(2, frozen_cols)
    if table.cols:
        sheet.autofilter(1, 0, 1 + count, len(table.cols) - 1)
    row_no = 2
    rows = first
    while rows:
        for row in rows:
            for col, (value, show) in enumerate(zip(row, shows)):
                _write_cell(sheet, row_no, col, value, show, fmt)
            row_no += 1
        rows = cursor.fetchmany(batch)


def _shown(value: Any, show: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return list_text(value)
    return str(value)


def _write_cell(sheet: Any, row: int, col: int, value: Any, show: str, fmt: _Formats) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float, Decimal)):
        style = fmt.points if show == "points" else fmt.int if show == "int" else fmt.dec
        sheet.write_number(row, col, float(value), style)
    elif isinstance(value, list):
        if value:
            sheet.write_string(row, col, xlsx_text(list_text(value)))
    else:
        sheet.write_string(row, col, xlsx_text(str(value)))  # text from data stays text, never a formula


def _columns_sheet(book: Any, infos: list[ColumnInfo], fmt: _Formats, t: Lang) -> None:
    sheet = book.add_worksheet("columns")
    heads = [(t._("Table"), "table", 14), (t._("Column"), "column", 34), (t._("Label"), "label", 40),
             (t._("Meaning"), "meaning", 70)]
    for i, (label, _name, width) in enumerate(heads):
        sheet.set_column(i, i, width)
        sheet.write_string(0, i, label, fmt.label)
    for i, (_label, name, _width) in enumerate(heads):
        sheet.write_string(1, i, name, fmt.name)
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, 1 + len(infos), len(heads) - 1)
    for r, info in enumerate(infos, start=2):
        for c, value in enumerate((info.table, info.name, info.label, info.meaning)):
            sheet.write_string(r, c, xlsx_text(value))
