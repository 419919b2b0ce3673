"""Data problems: what is wrong in an input file, the load's summary, and their text forms.

Problems point into data files (file, row, column), not into framework files, so
they are not Diagnostics.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kpidsl.period import Period
from kpidsl.syntax import nodes as n

# kind -> title, in the order problems are listed. The first group concerns whole
# files and cannot be fixed by rejecting rows; the rest point at one row each.
FILE_KINDS: dict[str, str] = {
    "missing_file": "missing file",
    "ambiguous_file": "more than one file",
    "unreadable_file": "unreadable file",
    "duplicate_column": "duplicate column",
    "missing_column": "missing column",
    "empty_table": "empty table",
    "empty_period": "no rows in the period",
}
ROW_KINDS: dict[str, str] = {
    "wrong_type": "wrong type",
    "empty_value": "empty value",
    "unknown_value": "unknown value",
    "out_of_range": "out of range",
    "no_period": "no period date",
    "duplicate_key": "duplicate key",
    "dangling_reference": "dangling reference",
    "rejected_reference": "reference to a rejected row",
}
KINDS: dict[str, str] = {**FILE_KINDS, **ROW_KINDS}

DEFAULT_CAP = 20
"""Problems listed per kind; every problem is still counted."""

VALUE_CHARS = 60

TYPE_WORDS = {
    "number": "a number (like 12, 0.5 or 25%)",
    "integer": "a whole number",
    "bool": "true or false (also yes/no, 1/0)",
    "date": "a date (YYYY-MM-DD)",
}


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with the data: where (input, file, row, column), what kind, and why."""

    input: str
    file: str
    kind: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def location(self) -> str:
        return f"{self.file}:{self.row}" if self.row is not None else self.file

    def render(self) -> str:
        column = f"column {self.column}: " if self.column is not None and self.row is not None else ""
        return f"{self.location()}: {column}{self.message}"


@dataclass(frozen=True)
class InputCounts:
    """Rows of one input: read = used + rejected + outside_period, always."""

    input: str
    file: str | None
    read: int = 0
    outside_period: int = 0
    rejected: int = 0
    used: int = 0
    invalid: int = 0  # rows with at least one problem (rejected ones when rejecting)


@dataclass(frozen=True)
class DataFile:
    """A file data was read from, for the manifest."""

    input: str
    path: str
    name: str
    format: str
    sha256: str
    size: int


@dataclass(frozen=True)
class FieldInfo:
    """What a row problem's message needs to know about its column."""

    field: n.Field
    is_key: bool = False
    target: str | None = None  # for refs: "person_id in people"
    forms: Any = None  # the framework's TextForms: how numbers and dates are written


@dataclass
class DataLoad:
    """The outcome of loading and validating one period's data."""

    period: Period
    reject_invalid: bool
    tables: dict[str, str]
    counts: dict[str, InputCounts]
    problems: list[DataProblem]
    problem_counts: dict[str, int]
    files: list[DataFile]
    problems_table: str
    fields: dict[tuple[str, str], FieldInfo] = field(default_factory=dict, repr=False)

    @property
    def total_problems(self) -> int:
        return sum(self.problem_counts.values())

    @property
    def fatal(self) -> bool:
        """Problems that rejecting rows cannot fix (missing files or columns, empty tables)."""
        return any(self.problem_counts.get(kind) for kind in FILE_KINDS)

    @property
    def ok(self) -> bool:
        """Scoring may go ahead: no problem at all, or only bad rows that were rejected."""
        if self.reject_invalid:
            return not self.fatal
        return self.total_problems == 0


# ---------------------------------------------------------------- messages

def quoted(value: str | None) -> str:
    """A data value for a message: quoted, escaped, cut to a readable length."""
    text = "" if value is None else value
    if len(text) > VALUE_CHARS:
        text = text[:VALUE_CHARS] + "…"
    return json.dumps(text, ensure_ascii=False)


def number_text(num: n.Num) -> str:
    if num.text:
        return num.text
    value = num.value
    if value.denominator == 1:
        return str(value.numerator)
    return str(float(value)) if _terminates(value) else str(value)


def _terminates(value: Fraction) -> bool:
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def bounds_text(ftype: n.FieldType) -> str:
    if ftype.between and len(ftype.bounds) == 2:
        return f"between {number_text(ftype.bounds[0].value)} and {number_text(ftype.bounds[1].value)}"
    return " and ".join(f"{b.op} {number_text(b.value)}" for b in ftype.bounds)


def row_message(kind: str, info: FieldInfo | None, value: str | None, detail: str | None) -> str:
    """The text of a row problem, after `column NAME: `."""
    ftype = info.field.type if info else None
    if kind == "wrong_type":
        words = TYPE_WORDS.get(ftype.base, f"a valid {ftype.base}") if ftype else "of the declared type"
        forms = info.forms if info else None
        if forms is not None and forms.decimal_comma and ftype and ftype.base == "number":
            words = "a number with a decimal comma (like 12, 0,5 or 25%)"
        if forms is not None and forms.day_first and ftype and ftype.base == "date":
            words = "a date (DD/MM/YYYY or YYYY-MM-DD)"
        return f"{quoted(value)} is not {words}"
    if kind == "empty_value":
        what = "the key" if info and info.is_key else "the field"
        return f"no value, and {what} is required"
    if kind == "unknown_value":
        return f"{quoted(value)} is not one of {', '.join(ftype.values) if ftype else '?'}"
    if kind == "out_of_range":
        return f"{quoted(value)} is out of range: must be {bounds_text(ftype) if ftype else '?'}"
    if kind == "no_period":
        return "no date, so the row cannot be placed in a period"
    if kind == "duplicate_key":
        return f"{quoted(value)} appears in {detail} rows; a key must be unique"
    if kind == "dangling_reference":
        return f"{quoted(value)} matches no {info.target if info else '?'}"
    if kind == "rejected_reference":
        return f"{quoted(value)} refers to a row of {detail} that was rejected"
    return quoted(value)


# ---------------------------------------------------------------- text forms

def render_problems(load: DataLoad) -> str:
    """Problems grouped per kind, each group with its full count; `file:row: column c: message`."""
    by_kind: dict[str, list[DataProblem]] = {}
    for problem in load.problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    lines: list[str] = []
    for kind, title in KINDS.items():
        total = load.problem_counts.get(kind, 0)
        if not total:
            continue
        lines.append(f"{title} ({total}):")
        shown = by_kind.get(kind, [])
        lines.extend(f"  {p.render()}" for p in shown)
        if total > len(shown):
            lines.append(f"  ... and {total - len(shown)} more")
    if lines:
        rows = sum(c.invalid for c in load.counts.values())
        total = load.total_problems
        lines.append(f"{total} problem{'s' if total != 1 else ''}"
                     + (f" in {rows} row{'s' if rows != 1 else ''}" if rows else ""))
    return "\n".join(lines) + ("\n" if lines else "")


REJECT_COLUMNS = ("input", "file", "row", "column", "kind", "message")


def write_rejects(con: Any, load: DataLoad, path: str, batch: int = 10_000) -> int:
    """Write every row problem (not only the listed ones) as CSV; returns the number of lines.

    Written to a temporary file first and renamed, so a failure leaves no partial file.
    """
    cursor = con.execute(
        f"SELECT input, file, row, \"column\", kind, value, detail FROM {load.problems_table} "
        "ORDER BY input_idx, row, col_idx, kind")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".rejects-", suffix=".csv", dir=folder)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(REJECT_COLUMNS)
            while rows := cursor.fetchmany(batch):
                for input_name, file, row, column, kind, value, detail in rows:
                    info = load.fields.get((input_name, column))
                    writer.writerow((input_name, file, row, column, kind,
                                     row_message(kind, info, value, detail)))
                    count += 1
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return count
