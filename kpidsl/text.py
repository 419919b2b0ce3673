"""Text from frameworks and data made safe where it is shown: on a terminal, and in a spreadsheet cell.

Every human output of kpidsl (diagnostics, data problems, `explain`, `test`, the
run's summary and messages) goes through `printable`: a hostile label or id
cannot move the cursor, clear the screen or set a window title. Every CSV that
kpidsl writes goes through `neutralised` (unless asked for raw cells): a cell a
spreadsheet would read as a formula starts with `'` instead.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"

# Characters that change how a terminal shows what follows: controls, line and paragraph separators,
# the marks and overrides of bidirectional text (which can make `a.kpi` display as something else),
# and lone surrogates. Other format characters (soft hyphen, zero-width joiners) are harmless.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _unsafe(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in _UNSAFE_CATEGORIES


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every character that could drive a terminal shown as `�`, one for one (so a caret
    under the text stays aligned); a tab becomes a space; newlines stay when asked."""
    if text.isprintable():
        return text  # the common case, checked in C
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif ch.isprintable() or not _unsafe(ch):
            out.append(ch)
        else:
            out.append(REPLACEMENT)
    return "".join(out)


# ---------------------------------------------------------------- spreadsheets

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def is_formula_like(cell: str) -> bool:
    """A spreadsheet would read this text as a formula: it starts with = + - @, a tab or a CR, and is
    not simply a number (`-12.5` is a number, not a formula)."""
    return cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell)


def neutralised(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: `'` before a formula-like cell (the OWASP advice)."""
    return "'" + cell if is_formula_like(cell) else cell


def neutralised_sql(sql: str) -> str:
    """`neutralised` as a DuckDB expression over a VARCHAR expression `sql`."""
    # Not `left(x, 1) IN (...)`: DuckDB plans an IN list as a join, which loses the rows' order.
    return (f"CASE WHEN regexp_matches({sql}, '^[-=+@\\t\\r]') "
            f"AND NOT regexp_full_match({sql}, '[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)') "
            f"THEN '''' || {sql} ELSE {sql} END")
