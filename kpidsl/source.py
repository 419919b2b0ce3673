"""Source files and the spans that point into them."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, eq=False)
class SourceFile:
    """A framework file's text with a line index, for turning offsets into positions."""

    path: str
    text: str
    line_starts: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        object.__setattr__(self, "line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count characters."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> Span:
        # position() twice, with one search of the line index when both ends are on one line (most spans)
        starts, size = self.line_starts, len(self.text)
        first = max(0, min(start, size))
        line = bisect.bisect_right(starts, first)
        last = max(0, min(end, size))
        if starts[line - 1] <= last and (line == len(starts) or last < starts[line]):
            end_line = line
        else:
            end_line = bisect.bisect_right(starts, last)
        return Span(self, start, end, line, first - starts[line - 1] + 1, end_line, last - starts[end_line - 1] + 1)

    @property
    def name(self) -> str:
        return self.path

    @classmethod
    def of(cls, path: str | Path, text: str) -> SourceFile:
        return cls(str(path), text)


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) in one source file.

    Spans never take part in equality: two nodes that differ only in where
    they were written compare equal, which is what the formatter's
    meaning-preservation property needs.
    """

    source: SourceFile = field(compare=False, repr=False)
    start: int = field(compare=False)
    end: int = field(compare=False)
    line: int = field(compare=False)
    column: int = field(compare=False)
    end_line: int = field(compare=False)
    end_column: int = field(compare=False)

    @property
    def file(self) -> str:
        return self.source.path

    def __repr__(self) -> str:
        return f"Span({self.file}:{self.line}:{self.column})"

    def to(self, other: Span) -> Span:
        """The span covering self through other (same file)."""
        return self.source.span(min(self.start, other.start), max(self.end, other.end))


def unknown_span(path: str = "<unknown>") -> Span:
    """A span for findings that belong to a file as a whole."""
    return SourceFile(path, "").span(0, 0)
