"""Typing data in SQL: per declared field, the expression of its typed value and of its problem code.

How text is read (decided here, described in docs/data.md):
number  `12`, `-0.5`, `.5`, `25%` (= 0.25); at most 10 decimals; no exponent, no thousands separator
integer `12`, `-3`, `12.0`
bool    true/false, yes/no, 1/0, any letter case
date    `YYYY-MM-DD`, a real calendar day
With the framework's `decimal comma`, numbers are written `22,5` (and a point is refused); with
`dates dd/mm/yyyy`, dates may also be written `04/12/2025`. Neither is ever guessed.
enum    one of the declared values, exactly (surrounding spaces ignored)
text, ref  the text as written
A cell that is empty or only spaces is missing: the default applies if there is one.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kpidsl.data.sources import Column
from kpidsl.sql.quoting import Params
from kpidsl.syntax import nodes as n

SQL_TYPES = {
    "text": "VARCHAR", "ref": "VARCHAR", "enum": "VARCHAR",
    "number": "DECIMAL(38,10)", "integer": "BIGINT", "bool": "BOOLEAN", "date": "DATE",
}

# Problem codes kept per field in the typed table while validating (small integers are cheap).
EMPTY, WRONG_TYPE, OUT_OF_RANGE, UNKNOWN_VALUE, NO_PERIOD = 1, 2, 3, 4, 5
CODE_KINDS = {EMPTY: "empty_value", WRONG_TYPE: "wrong_type", OUT_OF_RANGE: "out_of_range",
              UNKNOWN_VALUE: "unknown_value", NO_PERIOD: "no_period"}

_WS = "' \t\r\n'"  # a SQL literal holding a space, tab, CR and LF (a constant, not data)
_NUMBER = r"[+-]?([0-9]{1,28}(\.[0-9]{0,10})?|\.[0-9]{1,10})"
_PERCENT = r"[+-]?([0-9]{1,26}(\.[0-9]{0,8})?|\.[0-9]{1,8})%"
_INTEGER = r"[+-]?[0-9]{1,19}(\.0*)?"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DAY_FIRST = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"
_TEXTUAL = ("text", "json", "other")
_NUMERIC = ("int", "decimal", "float")
_OPS = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "=", "!=": "<>"}


@dataclass(frozen=True)
class TextForms:
    """How the framework says numbers and dates are written in text cells (its header's opt-ins)."""

    decimal_comma: bool = False
    day_first: bool = False

    @staticmethod
    def of(framework: n.Framework) -> TextForms:
        return TextForms(decimal_comma=framework.decimal == "comma", day_first=framework.dates == "dd/mm/yyyy")


ISO_FORMS = TextForms()


def sql_type(field: n.Field) -> str:
    return SQL_TYPES.get(field.type.base, "VARCHAR")


def text_of(col: Column) -> str:
    """The value as text (what a CSV cell would hold)."""
    if col.family == "text":
        return col.sql
    if col.family == "json":
        return f"json_extract_string({col.sql}, '$')"
    return f"CAST({col.sql} AS VARCHAR)"


def is_empty(col: Column) -> str:
    if col.family in _TEXTUAL:
        text = text_of(col)
        # Only text sorting before "!" can be blank; testing that first skips the costly trim
        # for nearly every value (and lets DuckDB skip whole row groups by their statistics).
        return f"({text} IS NULL OR ({text} < '!' AND trim({text}, {_WS}) = ''))"
    return f"({col.sql} IS NULL)"


def trimmed(text: str) -> str:
    """Text without surrounding blanks; trims only values that start or end with one."""
    return f"CASE WHEN {text} >= '!' AND right({text}, 1) > ' ' THEN {text} ELSE trim({text}, {_WS}) END"


def parsed(col: Column, base: str, forms: TextForms = ISO_FORMS) -> str:
    """The typed value of a non-empty cell; NULL when it is not a valid value of the type."""
    s, fam = col.sql, col.family
    if base in ("text", "ref"):
        return text_of(col)
    if base == "enum":
        return trimmed(text_of(col))
    if fam not in _TEXTUAL:
        native = _native(s, fam, base)
        if native is not None:
            return native
    text = _from_text(trimmed(text_of(col)), base, forms)
    if fam == "json" and base in ("number", "integer"):
        # A JSON number is a number even when its text is 1e3 or 0.30000000000000004
        # (rounded to 10 decimals, like a Parquet double); a JSON string is read as text.
        kind, raw = f"json_type({s})", f"json_extract_string({s}, '$')"
        double = f"TRY_CAST({raw} AS DOUBLE)"
        whole = "DECIMAL(38,10)" if base == "number" else "BIGINT"
        number = (f"CASE WHEN {kind} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({raw} AS {whole}) "
                  + (f"ELSE TRY_CAST({double} AS DECIMAL(38,10)) END" if base == "number" else
                     f"WHEN {double} = trunc({double}) THEN TRY_CAST({double} AS BIGINT) END"))
        return f"CASE WHEN {kind} IN ('DOUBLE', 'BIGINT', 'UBIGINT') THEN {number} ELSE {text} END"
    return text


def _from_text(t: str, base: str, forms: TextForms = ISO_FORMS) -> str:
    """The typed value of trimmed text `t`, NULL when it is not in the accepted form."""
    if base == "number" and forms.decimal_comma:
        number, percent = _NUMBER.replace(r"\.", ","), _PERCENT.replace(r"\.", ",")
        dotted = f"replace({t}, ',', '.')"
        return (f"CASE WHEN regexp_full_match({t}, '{number}') THEN TRY_CAST({dotted} AS DECIMAL(38,10)) "
                f"WHEN regexp_full_match({t}, '{percent}') "
                f"THEN CAST(TRY_CAST(left({dotted}, -1) AS DECIMAL(38,10)) * 0.01 AS DECIMAL(38,10)) END")
    if base == "integer" and forms.decimal_comma:
        return (f"CASE WHEN regexp_full_match({t}, '{_INTEGER.replace(chr(92) + '.', ',')}') "
                f"THEN TRY_CAST(regexp_extract({t}, '^[+-]?[0-9]+') AS BIGINT) END")
    if base == "date" and forms.day_first:
        return (f"CASE WHEN regexp_full_match({t}, '{_DATE}') AND NOT starts_with({t}, '0000') "
                f"THEN TRY_CAST({t} AS DATE) "
                f"WHEN regexp_full_match({t}, '{_DAY_FIRST}') AND NOT ends_with({t}, '/0000') "
                f"THEN CAST(try_strptime({t}, '%d/%m/%Y') AS DATE) END")
    if base == "number":
        return (f"CASE WHEN regexp_full_match({t}, '{_NUMBER}') THEN TRY_CAST({t} AS DECIMAL(38,10)) "
                f"WHEN regexp_full_match({t}, '{_PERCENT}') "
                f"THEN CAST(TRY_CAST(left({t}, -1) AS DECIMAL(38,10)) * 0.01 AS DECIMAL(38,10)) END")
    if base == "integer":
        return (f"CASE WHEN regexp_full_match({t}, '{_INTEGER}') "
                f"THEN TRY_CAST(regexp_extract({t}, '^[+-]?[0-9]+') AS BIGINT) END")
    if base == "bool":
        return (f"CASE WHEN lower({t}) IN ('true', 'yes', '1') THEN true "
                f"WHEN lower({t}) IN ('false', 'no', '0') THEN false END")
    if base == "date":
        return (f"CASE WHEN regexp_full_match({t}, '{_DATE}') AND NOT starts_with({t}, '0000') "
                f"THEN TRY_CAST({t} AS DATE) END")
    return t


def _native(s: str, fam: str, base: str) -> str | None:
    """Conversions from typed columns (Parquet, DuckDB); None = go through the text form."""
    if base == "number" and fam in _NUMERIC:
        return f"TRY_CAST({s} AS DECIMAL(38,10))"
    if base == "integer" and fam == "int":
        return f"TRY_CAST({s} AS BIGINT)"
    if base == "integer" and fam in ("decimal", "float"):
        return f"CASE WHEN {s} = trunc({s}) THEN TRY_CAST({s} AS BIGINT) END"
    if base == "bool" and fam == "bool":
        return s
    if base == "bool" and fam in _NUMERIC:
        return f"CASE WHEN {s} = 1 THEN true WHEN {s} = 0 THEN false END"
    if base == "date" and fam == "date":
        return s
    if base == "date" and fam == "timestamp":
        return f"CASE WHEN CAST({s} AS TIME) = TIME '00:00:00' THEN CAST({s} AS DATE) END"
    return None


def exact_decimal(value: Fraction) -> decimal.Decimal:
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)


def default_value(field: n.Field) -> Any | None:
    """The declared default as a Python value for a parameter; None if absent or unusable."""
    d, base = field.default, field.type.base
    if d is None:
        return None
    if base in ("text", "ref") and isinstance(d, n.Text):
        return d.value
    if base == "enum" and isinstance(d, (n.Text, n.Name)) and n.enum_default(d) in field.type.values:
        return n.enum_default(d)
    if base == "number" and isinstance(d, n.Num):
        return exact_decimal(d.value)
    if base == "integer" and isinstance(d, n.Num) and d.value.denominator == 1:
        return int(d.value)
    if base == "bool" and isinstance(d, n.Bool):
        return d.value
    if base == "date" and isinstance(d, n.DateLit) and isinstance(d.value, datetime.date):
        return d.value
    return None


@dataclass(frozen=True)
class FieldSQL:
    """SQL for one field: inner columns over the raw relation, then outer typed value and code."""

    inner: tuple[str, ...]  # `expr AS name` items selected from the raw relation
    typed: str  # over the inner names
    code: str  # over the inner names; NULL when the cell is fine


def field_sql(field: n.Field, col: Column | None, index: int, params: Params, *,
              required: bool, period_by: bool, forms: TextForms = ISO_FORMS) -> FieldSQL:
    """Typed value and problem code of one field; `col` None when the file lacks the column."""
    typ = sql_type(field)
    default = default_value(field)
    fallback = f"CAST({params.add(default)} AS {typ})" if default is not None else f"CAST(NULL AS {typ})"
    if col is None:
        return FieldSQL((), fallback, "CAST(NULL AS UTINYINT)")
    e, v = f"e{index}", f"v{index}"
    inner = (f"{is_empty(col)} AS {e}", f"CAST({parsed(col, field.type.base, forms)} AS {typ}) AS {v}")
    typed = f"CASE WHEN {e} THEN {fallback} ELSE {v} END"
    if period_by and default is None:
        on_empty = str(NO_PERIOD)
    elif required and default is None:
        on_empty = str(EMPTY)
    else:
        on_empty = "NULL"
    whens = [f"WHEN {e} THEN {on_empty}", f"WHEN {v} IS NULL THEN {WRONG_TYPE}"]
    ftype = field.type
    if ftype.base == "enum" and ftype.values:
        values = ", ".join(params.add(value) for value in ftype.values)
        whens.append(f"WHEN {v} NOT IN ({values}) THEN {UNKNOWN_VALUE}")
    if ftype.base in ("number", "integer") and ftype.bounds:
        checks = " AND ".join(f"{v} {_OPS.get(b.op, '=')} CAST({params.add(exact_decimal(b.value.value))} "
                              "AS DECIMAL(38,10))" for b in ftype.bounds)
        whens.append(f"WHEN NOT ({checks}) THEN {OUT_OF_RANGE}")
    code = f"CAST(CASE {' '.join(whens)} END AS UTINYINT)"
    return FieldSQL(inner, typed, code)
