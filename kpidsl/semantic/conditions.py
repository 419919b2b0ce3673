"""Conditions as finite logic: can one `where` hold when others do not? Decided exactly, or not at all.

A condition over an entity's fields is evaluated in every *world*: each field the
conditions read takes one value from a finite set that stands for all of its
values (every literal it is compared with, a value between and beyond each two,
and "missing" when the field may be empty), and every other condition (a measure,
a result, an aggregate) is an unknown that is true, false or missing on its own.
Missing follows the engine: `and`/`or`/`not` are three-valued and a `where` that
is missing does not hold. The worlds include every real entity, so "in every
world" is a proof; when there are too many worlds, nothing is decided (None).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kpidsl.syntax import nodes as n

MAX_WORLDS = 20_000
MISSING = None  # a field's value or a condition's truth when it is missing


@dataclass(frozen=True)
class _Other:
    """A value of a text field unlike every literal the conditions compare it with."""


class Logic:
    """The variables the conditions of one entity read, and their evaluation in every world."""

    def __init__(self, fields: Sequence[n.Field]) -> None:
        self.fields = {f.name: f for f in fields}
        self.literals: dict[str, set[Any]] = {}
        self.opaque: dict[n.Node, int] = {}

    # ------------------------------------------------------------ collecting the variables
    def learn(self, cond: n.Expr | None) -> None:
        """Note the fields `cond` reads and the literals it compares them with."""
        if cond is not None:
            self._learn(cond)

    def _learn(self, e: n.Expr) -> None:
        if isinstance(e, n.BoolOp):
            for operand in e.operands:
                self._learn(operand)
        elif isinstance(e, n.Not):
            self._learn(e.operand)
        elif isinstance(e, n.Bool):
            pass
        else:
            atom = self._atom(e)
            if atom is None:
                self.opaque.setdefault(e, len(self.opaque))
            else:
                name, values = atom
                self.literals.setdefault(name, set()).update(values)

    def _field(self, e: n.Expr) -> n.Field | None:
        if isinstance(e, n.Name) and len(e.parts) == 1:
            return self.fields.get(e.parts[0])
        return None

    def _literal(self, e: n.Expr, f: n.Field) -> tuple[bool, Any]:
        """(True, value) when `e` is a literal of field `f`'s kind."""
        base = f.type.base
        if isinstance(e, n.Num) and base in ("number", "integer"):
            return True, e.value
        if isinstance(e, n.DateLit) and base == "date":
            return True, e.value
        if isinstance(e, n.Bool) and base == "bool":
            return True, e.value
        if isinstance(e, n.Text) and base in ("text", "ref", "enum"):
            return True, e.value
        if isinstance(e, n.Name) and len(e.parts) == 1 and base == "enum" and e.parts[0] in f.type.values:
            return True, e.parts[0]
        return False, None

    def _atom(self, e: n.Expr) -> tuple[str, list[Any]] | None:
        """(field, literals) when `e` is a test of one field this logic can enumerate."""
        if isinstance(e, n.Name):
            f = self._field(e)
            return (f.name, [True, False]) if f is not None and f.type.base == "bool" else None
        if isinstance(e, n.IsMissing):
            f = self._field(e.operand)
            return (f.name, []) if f is not None else None
        if isinstance(e, n.InList):
            f = self._field(e.operand)
            if f is None:
                return None
            values = [self._literal(i, f) for i in e.items]
            return (f.name, [v for _, v in values]) if all(ok for ok, _ in values) else None
        if isinstance(e, n.Compare):
            for side, other in ((e.left, e.right), (e.right, e.left)):
                f = self._field(side)
                if f is None:
                    continue
                ok, value = self._literal(other, f)
                ordered = f.type.base in ("number", "integer", "date")
                if ok and (e.op in ("=", "!=") or ordered):
                    return f.name, [value]
            return None
        return None

    # ------------------------------------------------------------ the worlds
    def _domain(self, name: str) -> list[Any]:
        f = self.fields[name]
        seen = self.literals.get(name, set())
        base = f.type.base
        if base == "bool":
            values: list[Any] = [True, False]
        elif base == "enum":
            values = list(f.type.values) + [v for v in sorted(seen, key=str) if v not in f.type.values]
        elif base in ("number", "integer", "date"):
            values = _ordered_domain(sorted(seen))
        else:
            values = sorted(seen, key=str) + [_Other()]
        if f.type.optional and f.default is None:
            values.append(MISSING)
        return values

    def worlds(self) -> Iterator[dict[Any, Any]] | None:
        """Every world, or None when there are more than MAX_WORLDS."""
        names = sorted(self.literals)
        domains = [self._domain(name) for name in names]
        opaque = list(self.opaque)
        size = 3 ** len(opaque)
        for d in domains:
            size *= len(d)
        if size > MAX_WORLDS:
            return None

        def each() -> Iterator[dict[Any, Any]]:
            for values in itertools.product(*domains):
                base = dict(zip(names, values))
                for truths in itertools.product((True, False, MISSING), repeat=len(opaque)):
                    yield {**base, **dict(zip(opaque, truths))}
        return each()

    # ------------------------------------------------------------ evaluation
    def value(self, cond: n.Expr | None, world: dict[Any, Any]) -> bool | None:
        """True, False or None (missing) for `cond` in `world`; no condition holds for everyone."""
        if cond is None:
            return True
        return self._eval(cond, world)

    def _eval(self, e: n.Expr, w: dict[Any, Any]) -> bool | None:
        if isinstance(e, n.Bool):
            return e.value
        if isinstance(e, n.Not):
            inner = self._eval(e.operand, w)
            return None if inner is None else not inner
        if isinstance(e, n.BoolOp):
            values = [self._eval(o, w) for o in e.operands]
            if e.op == "and":
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        if e in self.opaque:
            return w[e]
        return self._test(e, w)

    def _test(self, e: n.Expr, w: dict[Any, Any]) -> bool | None:
        if isinstance(e, n.Name):
            return w[e.parts[0]]
        if isinstance(e, n.IsMissing):
            missing = w[e.operand.parts[0]] is MISSING
            return not missing if e.negated else missing
        if isinstance(e, n.InList):
            f = self._field(e.operand)
            value = w[f.name]
            if value is MISSING:
                return None
            return any(_same(value, self._literal(i, f)[1]) for i in e.items)
        assert isinstance(e, n.Compare)
        left_field = self._field(e.left)
        flipped = left_field is None or not self._literal(e.right, left_field)[0]
        f = self._field(e.right) if flipped else left_field
        literal = self._literal(e.left if flipped else e.right, f)[1]
        value = w[f.name]
        if value is MISSING:
            return None
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(e.op, e.op) if flipped else e.op
        return _compare(value, op, literal)


def _ordered_domain(points: list[Any]) -> list[Any]:
    """The literals, and a value below, between and above them, so every order test is seen both ways."""
    if not points:
        return [Fraction(0)]
    dates = isinstance(points[0], datetime.date)
    step: Any = datetime.timedelta(days=1) if dates else 1
    out: list[Any] = [points[0] - step]
    for low, high in zip(points, points[1:]):
        out.append(low)
        if dates:
            if (high - low).days > 1:
                out.append(low + step)
        else:
            out.append((low + high) / 2)
    out.extend([points[-1], points[-1] + step])
    return out


def _compare(value: Any, op: str, literal: Any) -> bool:
    if isinstance(value, _Other):
        return op == "!="
    return _OPS[op](value, literal)


_OPS = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _same(value: Any, literal: Any) -> bool:
    return not isinstance(value, _Other) and value == literal


def covered(fields: Sequence[n.Field], cond: n.Expr | None, earlier: Sequence[n.Expr | None]) -> bool | None:
    """Whether every entity `cond` takes is taken by one of `earlier` first: True, False, or None (undecided)."""
    if any(e is None for e in earlier):
        return bool(earlier)  # an earlier condition-less score takes everyone
    if not earlier:
        return False
    logic = Logic(fields)
    for c in (cond, *earlier):
        logic.learn(c)
    worlds = logic.worlds()
    if worlds is None:
        return None
    for w in worlds:
        if logic.value(cond, w) is True and not any(logic.value(e, w) is True for e in earlier):
            return False
    return True


def overlap(fields: Sequence[n.Field], a: n.Expr | None, b: n.Expr | None) -> bool:
    """Whether some entity may meet both conditions (True when undecided: only a proof says no)."""
    logic = Logic(fields)
    logic.learn(a)
    logic.learn(b)
    worlds = logic.worlds()
    if worlds is None:
        return True
    return any(logic.value(a, w) is True and logic.value(b, w) is True for w in worlds)


__all__ = ["Logic", "MAX_WORLDS", "covered", "overlap"]
