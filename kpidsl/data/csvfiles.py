"""CSV files: the delimiter read from the first lines, and what is wrong with a file, in words a user can act on.

DuckDB's own sniffer guesses too much: it skips a title line above the header
without a word, reads a file with one ragged row as a single column, and takes
`;`-separated values apart at the decimal commas. kpidsl decides the dialect
itself from the first lines (RFC 4180 quoting, the delimiter that splits them
alike), then has DuckDB read exactly that, strictly. When DuckDB refuses a file,
`diagnose` reads it again in Python to say where and why (not UTF-8, a line too
long, a row with more values than the header, a quote never closed), instead of
DuckDB's "CSV Error on Line: N".
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass

# In the order that wins a tie: a line split alike by `;` and by `,` holds decimal commas (which a
# semicolon-separated file exists for), far more often than a semicolon in every line of a comma file.
DELIMITERS = (";", "\t", "|", ",")
MAX_LINE_BYTES = 2_097_152  # DuckDB's longest line, which kpidsl keeps
SAMPLE_BYTES = 1 << 16
CRLF, LF = b"\r\n", b"\n"
SAMPLE_LINES = 50
_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a vertical bar"}
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16"))
SAVE_AS = 'save it as UTF-8 (in Excel: "CSV UTF-8 (Comma delimited)")'


class CsvError(ValueError):
    """The file cannot be read as CSV; the message says where and why."""


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    width: int  # values in the header line
    escape: str = '"'  # a quote inside a quoted value: doubled ("") as RFC 4180 has it, or after a backslash

    def reader_options(self) -> dict:
        """The same dialect for Python's csv module."""
        if self.escape == '"':
            return {"delimiter": self.delimiter, "doublequote": True}
        return {"delimiter": self.delimiter, "doublequote": False, "escapechar": self.escape}


def sniff(path: str) -> Dialect:
    """The delimiter and width of a CSV file, from its first lines; CsvError when it is not UTF-8 CSV."""
    with open(path, "rb") as fh:
        first = fh.readline(MAX_LINE_BYTES + 1)
        rest = fh.read(SAMPLE_BYTES)
    if len(first) > MAX_LINE_BYTES and not first.endswith(b"\n"):
        raise CsvError(f"line 1 is longer than {MAX_LINE_BYTES:,} bytes, the most a line may hold; is this a CSV file?")
    head = first + rest
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise CsvError(f"the file is {name} text, not UTF-8; {SAVE_AS}")
    if b"\x00" in head:
        raise CsvError(f"the file holds NUL bytes: it is not a text file, or it is UTF-16 without a mark; {SAVE_AS}")
    truncated = len(rest) == SAMPLE_BYTES
    data = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError as err:
        raise CsvError(_not_utf8(data, err.start)) from None
    if not text.strip():
        return Dialect(",", 0)
    return _choose(text, truncated)


def _choose(text: str, truncated: bool) -> Dialect:
    """The delimiter (and the way quotes are escaped) that reads the sampled lines most alike."""
    best: tuple | None = None
    for rank, (delimiter, escape) in enumerate((d, e) for e in ('"', "\\") for d in DELIMITERS):
        dialect = Dialect(delimiter, 0, escape)
        rows: list[list[str]] = []
        clean = True
        try:
            for row in csv.reader(io.StringIO(text, newline=""), strict=True, **dialect.reader_options()):
                if row:
                    rows.append(row)
                if len(rows) > SAMPLE_LINES:
                    break
        except csv.Error:
            clean = False  # a quote left open: judge by the rows before it
        if truncated and len(rows) > 1:
            rows.pop()  # the last row may be cut off by the end of the sample
        if not rows:
            continue
        # Judged by the width most lines have, so that a title line above the header (one value)
        # does not hide the delimiter: the header then differs and the read says so.
        usual = Counter(len(row) for row in rows).most_common(1)[0][0]
        alike = all(len(row) == usual for row in rows)
        key = (usual > 1, clean, alike, usual, -rank)
        if best is None or key > best[0]:
            best = (key, Dialect(delimiter, len(rows[0]), escape))
    return best[1] if best else Dialect(",", 1)


def diagnose(path: str, dialect: Dialect) -> str | None:
    """What makes the file unreadable, read line by line in Python: the first such problem, or None."""
    csv.field_size_limit(MAX_LINE_BYTES + 1)
    mixed: list[str] = []
    problem = _line_problem(path, mixed)
    if problem:
        return problem
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, strict=True, **dialect.reader_options())
        first_width: int | None = None
        start = 1
        try:
            for row in reader:
                if row and first_width is None:
                    first_width = len(row)
                elif row and first_width is not None and len(row) != first_width:
                    return _ragged(start, len(row), first_width, dialect.delimiter)
                start = reader.line_num + 1
        except csv.Error:
            return (f"line {start}: a value opens a double quote (\") that is never closed; close it, or write "
                    'a quote inside a quoted value as two ("")')
    return mixed[0] if mixed else None


def _line_problem(path: str, mixed: list[str]) -> str | None:
    """A line that is not UTF-8 or too long, by its number: the whole file is read in binary, once. Line
    ends of two kinds go into `mixed`, to be said when nothing else is wrong."""
    number = 0
    ends: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        while True:
            line = fh.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            number += 1
            if line.endswith(b"\n"):
                kind = CRLF if line.endswith(CRLF) else LF
                ends.setdefault(kind, number)
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                return (f"line {number} is longer than {MAX_LINE_BYTES:,} bytes, the most a line may hold; "
                        "is this a CSV file?")
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[3:]
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return f"line {number}: " + _not_utf8(line, err.start, with_line=False)
    if len(ends) > 1:
        crlf, lf = ends[CRLF], ends[LF]
        mixed.append(f"the lines end in two ways: with CR LF (Windows, line {crlf}) and with LF alone (line {lf}); "
                     "save the file again so that every line ends the same way")
    return None


def _not_utf8(data: bytes, offset: int, with_line: bool = True) -> str:
    """`line N, byte 0xE9 (column 4): not UTF-8 text (Windows-1252 or Latin-1?); save it as UTF-8`."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    guess = ""
    try:
        data[start:data.find(b"\n", offset) if b"\n" in data[offset:] else len(data)].decode("cp1252")
        guess = " (it may be Windows-1252 or Latin-1, as older spreadsheets save CSV)"
    except UnicodeDecodeError:
        pass
    where = f"line {line}, " if with_line else ""
    return f"{where}byte 0x{data[offset]:02X} at column {column} is not UTF-8 text{guess}; {SAVE_AS}"


def _ragged(line: int, width: int, header: int, delimiter: str) -> str:
    if line == 2 and header == 1:
        return (f"line 1 has 1 value and line 2 has {width}: if a title or notes stand above the header, "
                "remove them so that the header is the first line")
    values = "value" if header == 1 else "values"
    found = "value" if width == 1 else "values"
    return (f"line {line} has {width} {found}, the header (line 1) has {header} {values} separated by "
            f"{_NAMES.get(delimiter, repr(delimiter))}; a value holding {_NAMES.get(delimiter, delimiter)} "
            'must be in double quotes ("...")')
