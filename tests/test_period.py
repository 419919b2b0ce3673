"""Periods: parsing labels, their date ranges, and the periods inside a year."""

from __future__ import annotations

import datetime as dt

import pytest

from kpidsl.period import parse_period, period_of, periods_within


@pytest.mark.parametrize("text, kind, start, end", [
    ("2025", "year", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    ("2025-Q1", "quarter", dt.date(2025, 1, 1), dt.date(2025, 3, 31)),
    ("2025-Q3", "quarter", dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
    ("2025-Q4", "quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
    ("2025-09", "month", dt.date(2025, 9, 1), dt.date(2025, 9, 30)),
    ("2024-02", "month", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    ("2025-02", "month", dt.date(2025, 2, 1), dt.date(2025, 2, 28)),
    (" 2025-q2 ", "quarter", dt.date(2025, 4, 1), dt.date(2025, 6, 30)),
])
def test_parse_period(text, kind, start, end):
    period = parse_period(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert start in period and end in period
    assert start - dt.timedelta(days=1) not in period
    assert end + dt.timedelta(days=1) not in period


def test_labels_are_normalised():
    assert parse_period("2025-q3").label == "2025-Q3"
    assert str(parse_period("2025-09")) == "2025-09"


@pytest.mark.parametrize("text, words", [
    ("2025-13", "month 13 is not between 01 and 12"),
    ("2025-00", "month 00 is not between 01 and 12"),
    ("2025-Q5", "quarter 5 is not between 1 and 4"),
    ("2025-Q0", "quarter 0 is not between 1 and 4"),
    ("abc", "write a year (2025), a quarter (2025-Q3) or a month (2025-09)"),
    ("", "is not a period"),
    ("2025-9", "two digits"),
    ("0000", "year 0000"),
    ("2025-09-01", "is not a period"),
    ("25-Q1", "is not a period"),
])
def test_bad_periods_say_what_is_wrong(text, words):
    with pytest.raises(ValueError) as info:
        parse_period(text)
    assert words in str(info.value)


def test_periods_within_a_year():
    year = parse_period("2025")
    quarters = periods_within(year, "quarter")
    assert [q.label for q in quarters] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    months = periods_within(year, "month")
    assert len(months) == 12 and months[0].start == year.start and months[-1].end == year.end
    # consecutive, no gap, no overlap
    for a, b in zip(months, months[1:]):
        assert b.start == a.end + dt.timedelta(days=1)
    assert periods_within(year, "year") == [year]
    assert [m.label for m in periods_within(parse_period("2025-Q3"), "month")] == ["2025-07", "2025-08", "2025-09"]


def test_periods_within_refuses_a_larger_kind():
    with pytest.raises(ValueError, match="not made of years"):
        periods_within(parse_period("2025-Q1"), "year")
    with pytest.raises(ValueError, match="unknown period kind"):
        periods_within(parse_period("2025"), "week")


def test_period_of():
    assert period_of(dt.date(2025, 9, 30), "quarter").label == "2025-Q3"
    assert period_of(dt.date(2025, 10, 1), "quarter").label == "2025-Q4"
    assert period_of(dt.date(2025, 2, 14), "month").label == "2025-02"
    assert period_of(dt.date(2025, 2, 14), "year").label == "2025"
