"""The AST: frozen dataclasses, one per construct, each carrying its Span.

Spans (and the literal text kept for faithful printing) never take part in
equality, so two trees compare equal exactly when they mean the same thing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from fractions import Fraction

from kpidsl.source import Span


def _meta(default=None):
    """A field that is carried along but never compared."""
    return field(default=default, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Node:
    span: Span = field(compare=False, repr=False)


# ---------------------------------------------------------------- expressions

@dataclass(frozen=True, kw_only=True)
class Num(Node):
    """A number literal; `unit` is "percent" for 25% (value 1/4), else "number"."""

    value: Fraction
    unit: str = "number"
    text: str = _meta("")


@dataclass(frozen=True, kw_only=True)
class Text(Node):
    value: str


@dataclass(frozen=True, kw_only=True)
class DateLit(Node):
    value: datetime.date


@dataclass(frozen=True, kw_only=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True, kw_only=True)
class NoneLit(Node):
    """`none` in test data: an absent value."""


@dataclass(frozen=True, kw_only=True)
class Name(Node):
    """A dotted reference such as `on_time_share`, `tasks.coefficient`, `unit.rating`."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, kw_only=True)
class Neg(Node):
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Arith(Node):
    """A flat left-to-right chain `a + b - c` or `a * b / c` (flat to bound depth)."""

    operands: tuple[Expr, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class BoolOp(Node):
    """`a and b and c` or `a or b`: a flat chain."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class Compare(Node):
    left: Expr
    op: str
    right: Expr


@dataclass(frozen=True, kw_only=True)
class InList(Node):
    operand: Expr
    items: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class IsMissing(Node):
    """`x is missing` (negated=False) or `x is not missing`."""

    operand: Expr
    negated: bool


@dataclass(frozen=True, kw_only=True)
class If(Node):
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, kw_only=True)
class Deduction(Node):
    """Per-item deduction inside an aggregate: `less 25% per errors at most 100% unless waived`."""

    rate: Num
    per: Name
    cap: Num | None
    unless: Expr | None


@dataclass(frozen=True, kw_only=True)
class Call(Node):
    """An aggregate or function: `sum(tasks.coefficient where finished is not missing)`."""

    func: str
    args: tuple[Expr, ...]
    where: Expr | None = None
    deduction: Deduction | None = None


Expr = (Num | Text | DateLit | Bool | Name | Neg | Not | Arith | BoolOp | Compare | InList
    | IsMissing | If | Call)
Cell = Num | Text | DateLit | Bool | Name | NoneLit


# ---------------------------------------------------------------- header and files

@dataclass(frozen=True, kw_only=True)
class Rounding(Node):
    places: int
    mode: str = "half_up"


@dataclass(frozen=True, kw_only=True)
class Use(Node):
    path: str
    alias: str | None = None


@dataclass(frozen=True, kw_only=True)
class Extends(Node):
    target: str


@dataclass(frozen=True, kw_only=True)
class ShareBetween(Node):
    """`require weight of unit_kpi.functional between 50% and 70%`."""

    kind: str
    target: Name
    low: Num
    high: Num


@dataclass(frozen=True, kw_only=True)
class EveryScaled(Node):
    """`require every criterion [in PATH] has scale`."""

    within: Name | None = None


@dataclass(frozen=True, kw_only=True)
class Require(Node):
    constraint: ShareBetween | EveryScaled
    label: str | None = None


# ---------------------------------------------------------------- inputs and entities

@dataclass(frozen=True, kw_only=True)
class Bound(Node):
    op: str
    value: Num


@dataclass(frozen=True, kw_only=True)
class FieldType(Node):
    """text | number | integer | bool | date | enum | ref, with bounds and `?` for optional."""

    base: str
    bounds: tuple[Bound, ...] = ()
    between: bool = False
    values: tuple[str, ...] = ()
    ref: str | None = None
    optional: bool = False


@dataclass(frozen=True, kw_only=True)
class Field(Node):
    name: str
    label: str | None
    type: FieldType
    default: Num | Text | DateLit | Bool | Name | None = None


@dataclass(frozen=True, kw_only=True)
class Input(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    fields: tuple[Field, ...]
    key: str | None = None
    period_by: str | None = None
    display: str | None = None
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class UnitsEntity(Node):
    input: str
    parent: str | None = None


@dataclass(frozen=True, kw_only=True)
class PeopleEntity(Node):
    input: str
    member_of: str
    leader_when: Expr | None = None


@dataclass(frozen=True, kw_only=True)
class Measure(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    entity: str
    expr: Expr
    missing: str | None = None
    locked: bool = False


# ---------------------------------------------------------------- scales

@dataclass(frozen=True, kw_only=True)
class Point(Node):
    x: Num
    y: Num


@dataclass(frozen=True, kw_only=True)
class Linear(Node):
    points: tuple[Point, ...]
    clamp: bool = False
    cap: Num | None = None


@dataclass(frozen=True, kw_only=True)
class Band(Node):
    """One band: bounds (empty for `else`) and the points it gives."""

    bounds: tuple[Bound, ...]
    points: Num
    is_else: bool = False


@dataclass(frozen=True, kw_only=True)
class Bands(Node):
    bands: tuple[Band, ...]


@dataclass(frozen=True, kw_only=True)
class Target(Node):
    """Percent of a target, a literal or a name whose value comes from data."""

    target: Num | Name
    cap: Num | None = None


@dataclass(frozen=True, kw_only=True)
class LevelPoint(Node):
    level: str
    points: Num


@dataclass(frozen=True, kw_only=True)
class Levels(Node):
    levels: tuple[LevelPoint, ...]


@dataclass(frozen=True, kw_only=True)
class PassFail(Node):
    passed: Num
    failed: Num


ScaleBody = Linear | Bands | Target | Levels | PassFail


@dataclass(frozen=True, kw_only=True)
class Scale(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    body: ScaleBody
    locked: bool = False


# ---------------------------------------------------------------- scores

@dataclass(frozen=True, kw_only=True)
class Share(Node):
    """`weight 1/3` or `points 30`."""

    kind: str
    amount: Num


@dataclass(frozen=True, kw_only=True)
class Criterion(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    share: Share | None
    expr: Expr
    scale: str | ScaleBody | None = None
    scale_span: Span | None = field(default=None, compare=False, repr=False)
    missing: str | None = None
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class Adjustment(Node):
    """A bonus (adds points) or penalty (removes points), optionally capped."""

    kind: str
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    expr: Expr
    limit: Num | None = None
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class Group(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    share: Share | None
    items: tuple[Item, ...]
    missing: str | None = None
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class UseRating(Node):
    name: str


Item = Criterion | Group | Adjustment


@dataclass(frozen=True, kw_only=True)
class Score(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    entity: str
    items: tuple[Item | UseRating, ...]
    where: Expr | None = None
    total: Num | None = None
    missing: str | None = None
    locked: bool = False


@dataclass(frozen=True, kw_only=True)
class ExtendBlock(Node):
    """`extend unit_kpi.functional points 60 { ... }`: adds to or replaces parts of an inherited block.

    Items replace inherited items of the same name and are appended otherwise;
    with `replace`, the block's unlocked inherited items are dropped first.
    """

    target: Name
    items: tuple[Item, ...]
    replace: bool = False
    share: Share | None = None
    total: Num | None = None
    missing: str | None = None


# ---------------------------------------------------------------- ratings

@dataclass(frozen=True, kw_only=True)
class Level(Node):
    """A rating level; `when` is None for the `otherwise` level."""

    name: str
    label: str | None
    when: Expr | None


@dataclass(frozen=True, kw_only=True)
class Override(Node):
    level: str
    when: Expr


@dataclass(frozen=True, kw_only=True)
class RatingCap(Node):
    """`cap unit.rating when ...`: never rated above another entity's rating."""

    against: Name
    when: Expr | None = None


@dataclass(frozen=True, kw_only=True)
class Quota(Node):
    """`quota excellent at most 20% of good per unit resolve by score`."""

    level: str
    at_most: Num
    of: str
    per: Name
    resolve_by: str | None = None


RatingItem = Level | Override | RatingCap | Quota


@dataclass(frozen=True, kw_only=True)
class Rating(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    items: tuple[RatingItem, ...]
    locked: bool = False


# ---------------------------------------------------------------- roll-up

@dataclass(frozen=True, kw_only=True)
class RollupScore(Node):
    expr: Expr


@dataclass(frozen=True, kw_only=True)
class NotEvaluated(Node):
    when: Expr


RollupItem = RollupScore | UseRating | NotEvaluated


@dataclass(frozen=True, kw_only=True)
class Rollup(Node):
    name: str
    name_span: Span | None = field(default=None, compare=False, repr=False)   # where the name is written
    label: str | None
    entity: str
    per: str
    items: tuple[RollupItem, ...]
    locked: bool = False


# ---------------------------------------------------------------- tests

@dataclass(frozen=True, kw_only=True)
class TestPeriod(Node):
    period: str


@dataclass(frozen=True, kw_only=True)
class Row(Node):
    cells: tuple[Cell, ...]


@dataclass(frozen=True, kw_only=True)
class Given(Node):
    input: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True, kw_only=True)
class Expect(Node):
    """`expect person p1 score = 97.5`."""

    entity: str
    id: Cell
    path: Name
    value: Cell


@dataclass(frozen=True, kw_only=True)
class ExpectError(Node):
    message: str


TestItem = TestPeriod | Given | Expect | ExpectError


@dataclass(frozen=True, kw_only=True)
class Test(Node):
    __test__ = False  # not a pytest class

    label: str
    items: tuple[TestItem, ...]


# ---------------------------------------------------------------- the file

Decl = (Use | Extends | Require | Input | UnitsEntity | PeopleEntity | Measure | Scale | Score
    | ExtendBlock | Rating | Rollup | Test)


@dataclass(frozen=True)
class Comment:
    """A `#` comment, kept for the formatter; never part of the meaning."""

    text: str
    line: int
    column: int
    own_line: bool


@dataclass(frozen=True, kw_only=True)
class Framework(Node):
    id: str
    title: str | None
    decls: tuple[Decl, ...]
    version: str | None = None
    effective: datetime.date | None = None
    period: str | None = None
    rounding: Rounding | None = None
    language: str | None = None
    decimal: str | None = None
    dates: str | None = None
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)


def enum_default(d: Node) -> str | None:
    """The value of an enum field's default, written bare (`= planned`) or quoted."""
    if isinstance(d, Text):
        return d.value
    return d.dotted if isinstance(d, Name) else None


NAMED_DECLS = (Input, Measure, Scale, Score, Rating, Rollup)
