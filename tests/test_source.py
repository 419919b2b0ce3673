"""Spans place both ends exactly as position() does, whatever the offsets and line ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kpidsl.source import SourceFile


@given(st.text(st.sampled_from("ab\n\r"), max_size=20), st.integers(-3, 25), st.integers(-3, 25))
def test_span_ends_are_positions(text, start, end):
    source = SourceFile("t.kpi", text)
    span = source.span(start, end)
    assert (span.line, span.column) == source.position(start)
    assert (span.end_line, span.end_column) == source.position(end)
    assert list(source.line_starts) == [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
