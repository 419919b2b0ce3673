"""XLSX inputs: which sheet is read, which of its cells, and the values a workbook does not hold.

The sheet: a visible sheet named after the input (letter case and surrounding
spaces aside), else the only visible sheet; otherwise the workbook is refused
with its sheets listed. A hidden sheet is never read by accident.
The cells: the first row is the header; only the columns whose header matches a
field are read, so a stray cell far to the right (column XFD) costs nothing.
The values: a formula's last computed result, as saved; a formula saved without
one (written by a program that does not compute) is refused, naming the cell,
rather than read as an empty cell that a default would silently fill.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

FORMULAS_LISTED = 5
# How a workbook stores a character XML cannot carry (a CR is `_x000D_`), and a literal `_xHHHH_`
# (its `_` stored as `_x005F_`): read back as the text it stands for.
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescaped(value: Any) -> Any:
    """A cell's text as written in the spreadsheet (openpyxl leaves `_x000D_` as it is stored)."""
    if isinstance(value, str) and "_x" in value:
        return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


class WorkbookError(ValueError):
    """The workbook cannot be read as an input; the message says why and what to do."""


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", str(name)).strip().casefold()


def choose_sheet(sheets: Sequence[Any], input_name: str) -> Any:
    """The sheet to read for `input_name` (see the module docstring)."""
    visible = [s for s in sheets if getattr(s, "sheet_state", "visible") == "visible"]
    named = [s for s in visible if _fold(s.title) == _fold(input_name)]
    if len(named) == 1:
        return named[0]
    if len(visible) == 1 and not named:
        return visible[0]
    hidden = [s.title for s in sheets if s not in visible]
    also = f" (hidden: {', '.join(hidden)})" if hidden else ""
    if not visible:
        raise WorkbookError(f"the workbook has no visible sheet{also}; kpidsl never reads a hidden sheet")
    names = ", ".join(s.title for s in visible)
    what = f"{len(named)} visible sheets are named {input_name}" if named else \
        f"the workbook has {len(visible)} visible sheets ({names}) and none is named {input_name}"
    raise WorkbookError(f"{what}{also}; name the sheet to read {input_name}, or keep only that sheet visible")


class SheetReader:
    """The header and the rows (only the wanted columns) of the chosen sheet of one workbook."""

    def __init__(self, path: str, input_name: str) -> None:
        import openpyxl

        self.path = path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not read
            try:
                self.values = openpyxl.load_workbook(path, read_only=True, data_only=True)
                self.formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
            except Exception as err:  # openpyxl raises many kinds for a damaged file
                raise WorkbookError(f"not a readable .xlsx workbook ({type(err).__name__}: {err})"[:200]) from err
        if not self.values.worksheets:
            self.close()
            raise WorkbookError("the workbook has no sheet")
        try:
            sheet = choose_sheet(self.values.worksheets, input_name)
        except WorkbookError:
            self.close()
            raise
        self.title = sheet.title
        self.sheet = sheet
        self.formula_sheet = self.formulas[sheet.title]

    def header(self) -> tuple[Any, ...]:
        """The first row, without empty cells at its end."""
        first = next(self.sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        header = tuple(unescaped(v) for v in first)
        while header and header[-1] is None:
            header = header[:-1]
        return header

    def rows(self, columns: Sequence[int]) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(row number, values of `columns`) of every data row that is not empty; the first data row is 1.

        Raises WorkbookError when a cell read holds a formula saved without its result.
        """
        width = max(columns) + 1 if columns else 1
        values = self.sheet.iter_rows(min_row=2, max_col=width)
        formulas = self.formula_sheet.iter_rows(min_row=2, max_col=width)
        unsaved: list[str] = []
        count = 0
        for number, (cells, raw) in enumerate(zip(values, formulas), start=1):
            picked = tuple(unescaped(cells[i].value) if i < len(cells) else None for i in columns)
            for i in columns:
                if i < len(raw) and raw[i].data_type == "f" and (i >= len(cells) or cells[i].value is None):
                    count += 1
                    if len(unsaved) < FORMULAS_LISTED:
                        unsaved.append(raw[i].coordinate)
            if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in picked):
                yield number, picked
        if count:
            more = f" and {count - len(unsaved)} more" if count > len(unsaved) else ""
            cells = "cell" if count == 1 else "cells"
            raise WorkbookError(f"sheet {self.title}: {cells} {', '.join(unsaved)}{more} "
                                f"hold{'s' if count == 1 else ''} a formula saved without its result; open the "
                                "workbook in a spreadsheet program and save it (so every formula keeps its "
                                "value), or paste the values in place of the formulas")

    def close(self) -> None:
        for book in (getattr(self, "values", None), getattr(self, "formulas", None)):
            if book is not None:
                book.close()

