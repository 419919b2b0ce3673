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


def effective_problem(name: str, effective: datetime.date | None, period: Period, kind: str | None,
                      way_out: str = "pass --what-if") -> str | None:
    """Why a framework that applies from `effective` may not score `period`, or None if it may.

    A period is scored by one version from its first day: it may not end before `effective`, nor
    contain it other than on its first day. `name` is how the framework is called (`central 2025.07`);
    `kind` is the framework's own period kind, to name the parts of a longer period that come too early;
    `way_out` ends the message (what else the reader may do).
    Only period dates are compared, never today's date.
    """
    if effective is None or period.start >= effective:
        return None
    head = f"framework {name} applies from {effective.isoformat()}; {period.label}"
    if period.end < effective:
        return f"{head} ends before it: score it with the version in effect then, or {way_out}"
    early = ""
    if kind in KINDS and KINDS.index(kind) < KINDS.index(period.kind):
        before = [p.label for p in periods_within(period, kind) if p.end < effective]
        if before:
            early = f" ({_listed(before)} {'ends' if len(before) == 1 else 'end'} before it)"
    holding = period_of(effective, period.kind)
    onward = holding if holding.start == effective else period_of(holding.end + datetime.timedelta(days=1),
                                                                  period.kind)
    return (f"{head} starts on {period.start.isoformat()}, before it{early}: a period is scored by one version "
            f"from its first day, so make the framework effective {period.start.isoformat()} (or score "
            f"{onward.label} onward), or {way_out}")


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
