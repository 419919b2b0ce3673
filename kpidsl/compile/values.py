"""Compiled values (`V`) and the exact arithmetic that combines them into SQL.

Every number is a DECIMAL(38,12) (or an integer while it stays one); a division or a
rounding goes through the HUGEINT helpers of `engine.decimal_sql`, whose operands are
first made columns of a lower layer so the SQL never repeats a large expression.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from kpidsl.compile.relation import Rel
from kpidsl.sql import decimal as D
from kpidsl.sql.quoting import ident
from kpidsl.syntax import nodes as n

ValueKind = Literal["int", "dec", "bool", "text", "date", "enum", "level", "null"]
"""What a compiled value is in SQL: its type, and for levels an order (V.levels)."""


_KINDS: dict[str, ValueKind] = {"number": "dec", "integer": "int", "bool": "bool", "date": "date", "text": "text",
                                "ref": "text", "enum": "enum"}
_SQL_TYPES = {"dec": D.DEC, "int": "HUGEINT", "bool": "BOOLEAN", "date": "DATE", "text": "VARCHAR",
              "enum": "VARCHAR", "level": "VARCHAR"}


def sql_type(kind: str) -> str:
    return _SQL_TYPES[kind]


@dataclass(frozen=True)
class V:
    """A compiled value: SQL readable in the relation's top layer, its kind, and the columns it reads."""

    sql: str
    kind: ValueKind
    deps: frozenset[str] = frozenset()
    simple: bool = False
    levels: tuple[str, ...] = ()
    scale: int = 12                 # decimals: the places of its SQL type (12 unless exact with fewer)


NULL = V("NULL", "null", simple=True)


class ExactArithmetic:
    """Parameters, widening and exact + - * / and rounding of values.

    Mixed into `ExprCompiler`, which gives it `tmp` (fresh column names) and the framework's rounding `mode`.
    """

    mode: str

    def tmp(self, hint: str = "t") -> str:
        raise NotImplementedError  # ExprCompiler's

    def param(self, rel: Rel, value: Any, kind: ValueKind) -> V:
        if kind == "dec":
            exact, places = _decimal(value)
            ref = rel.params.add(exact)
            width = 18 if abs(exact) < Decimal(10) ** (18 - places) else 38
            return V(f"CAST({ref} AS DECIMAL({width},{places}))", "dec", simple=True, scale=places)
        ref = rel.params.add(_py(value, kind))
        if kind == "int":
            return V(f"CAST({ref} AS {'HUGEINT' if abs(value) >= 2 ** 62 else 'BIGINT'})", "int", simple=True,
                     scale=0)
        if kind == "date":
            return V(f"CAST({ref} AS DATE)", "date", simple=True)
        return V(f"CAST({ref} AS VARCHAR)", kind, simple=True)

    def number(self, rel: Rel, value: Fraction) -> V:
        """A framework number as a parameter: an integer stays one, anything else is a decimal."""
        if value.denominator == 1:
            return self.param(rel, int(value), "int")
        return self.param(rel, value, "dec")

    def lift(self, rel: Rel, v: V, hint: str = "t") -> V:
        """A value that may be repeated in SQL: a column of a lower layer (or already simple)."""
        if v.simple:
            return v
        name = rel.add(self.tmp(hint), v.sql, v.deps, v.kind, v.levels)
        return V(ident(name), v.kind, frozenset({name}), simple=True, levels=v.levels, scale=v.scale)

    def as_dec(self, v: V) -> V:
        """A number as DECIMAL(38,12); widening a decimal of fewer places is exact and cheap."""
        if v.kind == "dec" and v.scale == D.SCALE:
            return v
        if v.kind == "null":
            return V(f"CAST(NULL AS {D.DEC})", "dec", simple=True)
        return V(D.dec(v.sql), "dec", v.deps, v.simple)

    def at_scale(self, v: V, scale: int) -> V:
        """A number as DECIMAL(38, scale), scale at least its own: for comparing and combining exactly."""
        if v.kind == "int" and scale == 0:
            return v
        return V(f"CAST({v.sql} AS DECIMAL(38,{scale}))", "dec", v.deps, v.simple, scale=scale)

    def common(self, values: list[V]) -> list[V]:
        """Numbers brought to one decimal type (DuckDB would otherwise round some of them)."""
        nums = [v for v in values if v.kind in ("int", "dec")]
        if not nums or all(v.kind == "int" for v in nums):
            return values
        scale = max(v.scale if v.kind == "dec" else 0 for v in nums)
        return [self.at_scale(v, scale) if v.kind in ("int", "dec") else
                (V(f"CAST(NULL AS DECIMAL(38,{scale}))", "dec", simple=True, scale=scale) if v.kind == "null" else v)
                for v in values]

    # ------------------------------------------------------------ exact arithmetic
    def ratio(self, rel: Rel, num: V, den: V, places: int, mode: str) -> V:
        """round(num / den, places) exactly, as DECIMAL(38,12); num and den are HUGEINT values."""
        num, den = self.lift(rel, num, "n"), self.lift(rel, den, "d")
        pow10 = self.param(rel, 10 ** places, "int").sql
        limit = rel.params.add(2 ** 125 // (2 * 10 ** places))
        r = D.ratio_fast(num.sql, den.sql, places, pow10, mode, f"CAST({limit} AS HUGEINT)")
        unit = f"CAST({rel.params.add(Decimal(1).scaleb(-places))} AS DECIMAL(38,{places}))"
        return V(D.from_scaled(r, places, unit), "dec", num.deps | den.deps)

    def scaled(self, rel: Rel, v: V) -> V:
        """The HUGEINT v * 10^12."""
        if v.kind == "int":
            return V(f"(CAST({v.sql} AS HUGEINT) * {D.ONE_E12})", "int", v.deps)
        v = self.lift(rel, v)
        return V(D.scaled(v.sql), "int", v.deps)

    def divide(self, rel: Rel, a: V, b: V) -> V:
        if a.kind == "int" and b.kind == "int":
            num = V(f"CAST({a.sql} AS HUGEINT)", "int", a.deps)
            den = V(f"CAST({b.sql} AS HUGEINT)", "int", b.deps)
        else:
            num, den = self.scaled(rel, a), self.scaled(rel, b)
        return self.ratio(rel, num, den, D.SCALE, "half_up")

    def round_to(self, rel: Rel, v: V, places: int, mode: str | None = None) -> V:
        """v rounded to `places` by the framework's mode (or `mode`)."""
        mode = mode or self.mode
        if v.kind == "int":
            return v
        if mode == "half_up":
            # DuckDB's round() of a DECIMAL rounds a tie away from zero, exactly: Python's ROUND_HALF_UP.
            return V(D.dec(f"round({v.sql}, {int(places)})"), "dec", v.deps)
        if mode == "down":
            return V(D.dec(f"trunc({v.sql}, {int(places)})"), "dec", v.deps)
        return self.ratio(rel, self.scaled(rel, v), V(D.ONE_E12, "int", simple=True), places, mode)

    def multiply(self, a: V, b: V) -> V:
        deps = a.deps | b.deps
        if a.kind == "int" and b.kind == "int":
            return V(f"({a.sql} * {b.sql})", "int", deps, scale=0)
        if a.kind == "int" or b.kind == "int":
            d, i = (a, b) if a.kind == "dec" else (b, a)
            return V(f"({d.sql} * CAST({i.sql} AS HUGEINT))", "dec", deps, scale=d.scale)
        if a.scale + b.scale <= D.SCALE:
            # Exact without rounding: DuckDB's product keeps every place.
            return V(f"({a.sql} * {b.sql})", "dec", deps, scale=a.scale + b.scale)
        return V(D.dec(f"({a.sql} * {b.sql})"), "dec", deps)

    def add(self, a: V, b: V, op: str) -> V:
        deps = a.deps | b.deps
        if a.kind == "int" and b.kind == "int":
            return V(f"({a.sql} {op} {b.sql})", "int", deps, scale=0)
        a, b = self.common([a, b])
        return V(f"({a.sql} {op} {b.sql})", "dec", deps, scale=a.scale if a.kind == "dec" else b.scale)


def field_value(f: n.Field, sql: str, deps: frozenset[str]) -> V:
    kind = _KINDS.get(f.type.base, "text")
    if kind == "dec":
        # Loaded numbers are DECIMAL(38,10); they are widened only where a value needs it.
        return V(sql, "dec", deps, simple=True, scale=10)
    return V(sql, kind, deps, simple=True)


def _deps(values) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for v in values:
        out |= v.deps
    return out


def _decimal(value: Any) -> tuple[Decimal, int]:
    """A decimal number and its places: exact when it has at most 12, else rounded half-up at 12."""
    frac = Fraction(value)
    for places in range(D.SCALE + 1):
        scaled = frac * 10 ** places
        if scaled.denominator == 1:
            return Decimal(scaled.numerator).scaleb(-places), places
    return _py(value, "dec"), D.SCALE


def _py(value: Any, kind: str) -> Any:
    """A Python value to bind: decimals exact (a fraction without a finite decimal is rounded at 12 places)."""
    if kind == "dec":
        frac = Fraction(value)
        scaled = frac * 10 ** D.SCALE
        q, r = divmod(abs(scaled.numerator), scaled.denominator)
        if 2 * r >= scaled.denominator:
            q += 1
        q = -q if frac < 0 else q
        return Decimal(q).scaleb(-D.SCALE)
    if kind == "int":
        return int(value)
    if kind == "date":
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))
    return str(value)
