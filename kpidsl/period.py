"""Periods: parse `2025`, `2025-Q3` or `2025-09` into a kind and an inclusive date range."""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

KINDS = ("month", "quarter", "year")

_PATTERN = re.compile(r"(\d{4})(?:-(?:[Qq](\d+)|(\d+)))?")
_HELP = "write a year (2025), a quarter (2025-Q3) or a month (2025-09)"


@dataclass(frozen=True, order=True)
class Period:
    """One month, quarter or year: its label and first and last day (both included)."""

    start: datetime.date
    end: datetime.date
    kind: str
    label: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, datetime.date) and self.start <= day <= self.end

    def __str__(self) -> str:
        return self.label


def month(year: int, number: int) -> Period:
    last = calendar.monthrange(year, number)[1]
    return Period(datetime.date(year, number, 1), datetime.date(year, number, last), "month",
                  f"{year:04d}-{number:02d}")


def quarter(year: int, number: int) -> Period:
    first = 3 * (number - 1) + 1
    return Period(datetime.date(year, first, 1), month(year, first + 2).end, "quarter", f"{year:04d}-Q{number}")


def year(number: int) -> Period:
    return Period(datetime.date(number, 1, 1), datetime.date(number, 12, 31), "year", f"{number:04d}")


def parse_period(text: str) -> Period:
    """`2025` (year), `2025-Q3` (quarter) or `2025-09` (month); ValueError saying what is wrong."""
    raw = text.strip()
    match = _PATTERN.fullmatch(raw)
    if match is None:
        raise ValueError(f"{text!r} is not a period: {_HELP}")
    y = int(match.group(1))
    if y < 1:
        raise ValueError(f"{text!r} is not a period: year 0000 does not exist")
    if match.group(2) is not None:
        q = int(match.group(2))
        if not 1 <= q <= 4:
            raise ValueError(f"{text!r} is not a period: quarter {q} is not between 1 and 4")
        return quarter(y, q)
    if match.group(3) is not None:
        digits = match.group(3)
        m = int(digits)
        if len(digits) != 2:
            raise ValueError(f"{text!r} is not a period: write the month with two digits (2025-09)")
        if not 1 <= m <= 12:
            raise ValueError(f"{text!r} is not a period: month {digits} is not between 01 and 12")
        return month(y, m)
    return year(y)


def period_of(day: datetime.date, kind: str) -> Period:
    """The period of the given kind that contains a day."""
    if kind == "month":
        return month(day.year, day.month)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1)
    if kind == "year":
        return year(day.year)
    raise ValueError(f"unknown period kind {kind!r}; expected one of {', '.join(KINDS)}")


def periods_within(outer: Period, kind: str) -> list[Period]:
    """The periods of `kind` that make up `outer`, in order (the quarters or months of a year)."""
    if kind not in KINDS:
        raise ValueError(f"unknown period kind {kind!r}; expected one of {', '.join(KINDS)}")
    if KINDS.index(kind) > KINDS.index(outer.kind):
        raise ValueError(f"a {outer.kind} ({outer.label}) is not made of {kind}s")
    out = []
    day = outer.start
    while day <= outer.end:
        part = period_of(day, kind)
        out.append(part)
        day = part.end + datetime.timedelta(days=1)
    return out
