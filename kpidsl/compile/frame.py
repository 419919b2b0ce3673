"""Where each computed value lives while a plan is compiled: one frame per entity, stages, and scopes.

A frame is the set of columns computed for every person (or unit). Its values are
computed in *stages*: a stage is one statement over the entity's base table that
adds many columns at once, and is written out as a table (`kpi_run."people:2"`,
keyed by `_e`) when something must read its values across entities (a unit
averaging its members' scores) or from another statement. A Scope says, for one
expression, which relation it is compiled into and whose row it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kpidsl.compile.columns import NodeColumns
from kpidsl.compile.relation import Rel
from kpidsl.plan import BOUNDS, PERIOD_RESULTS, SOURCE, WORK, work_table  # noqa: F401 - the compiler's names
from kpidsl.sql.quoting import ident


class CompileError(Exception):
    """A construct the engine cannot run; carries the message and the span to show."""

    def __init__(self, message: str, span=None) -> None:
        where = f"{span.file}:{span.line}:{span.column}: " if span is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.span = span


@dataclass(frozen=True)
class ColInfo:
    kind: str                       # int dec bool text date enum level
    levels: tuple[str, ...] = ()    # for levels: names best first


@dataclass
class Stage:
    """The unwritten stage of a frame: its relation, the columns it keeps, what it implements."""

    rel: Rel
    outputs: list[str] = field(default_factory=list)
    rules: list = field(default_factory=list)
    scans: list = field(default_factory=list)   # scans to run just before this stage
    nodes: list = field(default_factory=list)   # the dependency-graph nodes it computes


@dataclass
class Frame:
    entity: str
    base: str                                # the base table (quoted, qualified)
    base_cols: frozenset[str]
    tables: dict[str, str] = field(default_factory=dict)     # column -> table holding it
    info: dict[str, ColInfo] = field(default_factory=dict)
    pending: Stage | None = None
    count: int = 0
    # While a unit-tree recursion is compiled: its columns are read across units from `rec_table`.
    rec_table: str | None = None
    rec_cols: NodeColumns = field(default_factory=NodeColumns)
    prefix: str = ""

    def next_table(self) -> str:
        self.count += 1
        return work_table(f"{self.prefix}{self.entity}:{self.count}")


@dataclass(frozen=True)
class Anchor:
    """Where the `_e` of an entity row is found at join level: `b."_e"`, `j2."_parent_e"`."""

    alias: str
    column: str

    @property
    def sql(self) -> str:
        return f"{self.alias}.{ident(self.column)}"


SELF = Anchor("b", "_e")


@dataclass
class ResultCtx:
    """`score` and `rating` inside a rating: the score being rated and the level chosen so far."""

    score: object            # a compiled value (V)
    rating: object | None    # a compiled value (V), None before the level is chosen
    levels: tuple[str, ...]


@dataclass
class Scope:
    """What an expression reads: a frame row of `entity`, an input row, or a period result row."""

    rel: Rel
    kind: str                        # frame | entity | input | periods
    entity: str | None               # whose row (people/units); None for input rows
    input: str | None = None         # input rows: the input
    narrow: str | None = None        # entity rows narrowed to one score
    prefix: tuple[str, ...] = ()     # the collection path that names these rows
    outer: Scope | None = None       # the scope the aggregate is written in
    owner: Anchor | None = None      # rows: where the owner's `_e` is, in `rel`
    result: ResultCtx | None = None
    periods: bool = False            # a rollup: `periods` is known
    frames: str = "period"           # which frame set the scope belongs to
    pure: bool = True                # input rows: nothing outside the row was read
