"""The vocabulary of scope analysis: types, symbols, evaluation contexts, the Analysis, and their words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kpidsl.diagnostics import Diagnostic
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

# A node of the dependency graph (semantic/graph.py): ("measure", m), ("population", s)
# (who score s takes), ("score", s), ("rollup", y), or ("rating", r, "score"|"rollup", via):
# a rating is computed once per score (or rollup) that uses it, so that the staff rating
# and the leader rating of one `rating` declaration are separate steps.
NodeKey = tuple

RowKind = Literal["input", "entity", "periods"]
TypeKind = Literal["number", "integer", "bool", "date", "text", "ref", "enum", "level", "entity", "collection",
                   "column", "narrow", "unknown"]
SymKind = Literal["measure", "field", "collection", "relation", "result", "narrow", "criterion", "periods",
                  "enum_value", "level"]

ENTITIES = ("people", "units")
COLLECTION_AGGREGATES = ("count", "sum", "mean", "share")
FUNCTIONS = ("count", "sum", "mean", "min", "max", "share", "round", "abs")


# ---------------------------------------------------------------- types

@dataclass(frozen=True, slots=True)
class Row:
    """What one element of a collection is: an input's row, a person or unit, or a period result."""

    kind: RowKind
    name: str            # the input's name, or "people" / "units"
    score: str | None = None   # people or units narrowed to those scored by this score


@dataclass(frozen=True, slots=True)
class Type:
    """number, integer, bool, date, text, ref, enum, level, entity, collection, column, narrow or unknown."""

    kind: TypeKind
    values: tuple[str, ...] = ()     # enum values, rating levels (best first)
    owner: str = ""                  # the enum's field, the levels' rating(s), the ref's input
    row: Row | None = None           # entity, collection, column
    elem: Type | None = None         # column: the type of one row's value

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "integer")

    def scalar(self) -> Type:
        """The per-row type of a column; any other type itself."""
        return self.elem if self.kind == "column" and self.elem is not None else self


UNKNOWN = Type("unknown")
NUMBER = Type("number")
INTEGER = Type("integer")
BOOL = Type("bool")
DATE = Type("date")
TEXT = Type("text")

_BASE_TYPES = {"number": NUMBER, "integer": INTEGER, "bool": BOOL, "date": DATE, "text": TEXT}


def field_type(f: n.Field) -> Type:
    ft = f.type
    if ft.base == "enum":
        return Type("enum", ft.values, f.name)
    if ft.base == "ref":
        return Type("ref", owner=ft.ref or "")
    return _BASE_TYPES.get(ft.base, UNKNOWN)


def describe(t: Type) -> str:
    """The type in plain words, for messages: "a date", "one of planned | unexpected"."""
    kind = t.kind
    if kind == "number":
        return "a number"
    if kind == "integer":
        return "a whole number"
    if kind == "bool":
        return "a true/false value"
    if kind == "date":
        return "a date"
    if kind == "text":
        return "text"
    if kind == "ref":
        return f"a reference to `{t.owner}`"
    if kind == "enum":
        return "one of " + " | ".join(t.values)
    if kind == "level":
        return f"a level of rating `{t.owner}`"
    if kind == "entity" and t.row is not None:
        return "a person" if t.row.name == "people" else "a unit"
    if kind == "collection" and t.row is not None:
        return "a collection of " + _row_words(t.row)
    if kind == "column" and t.elem is not None:
        return f"a column with {describe(t.elem)} for each row"
    if kind == "narrow":
        return f"the group scored by `{t.owner}`"
    return "of unknown type"


def _row_words(row: Row) -> str:
    if row.kind == "input":
        return f"`{row.name}` rows"
    if row.kind == "periods":
        return "period results"
    return row.name


def describe_node(key: NodeKey) -> str:
    """A dependency-graph node in words: "measure `done`", "rating `national` of score `staff`"."""
    if key[0] == "rating":
        return f"rating `{key[1]}` of {key[2]} `{key[3]}`"
    if key[0] == "population":
        return f"who score `{key[1]}` takes"
    return f"{key[0]} `{key[1]}`"


# ---------------------------------------------------------------- level orders and joined types

def fits(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """Every level of `inner` is one of `outer`, in the same order."""
    rest = iter(outer)
    return all(level in rest for level in inner)


def one_order(lists: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The longest of some level lists when every other fits into it (it orders them all); else None."""
    if not lists:
        return ()
    longest = max(lists, key=len)
    return longest if all(fits(other, longest) for other in lists) else None


def level_type(ratings: list[n.Rating]) -> Type:
    lists = [tuple(dict.fromkeys(i.name for i in r.items if isinstance(i, n.Level))) for r in ratings]
    values = one_order(lists)
    if values is None:  # no one order: the ratings pass reports where the order is needed
        values = tuple(dict.fromkeys(level for levels in lists for level in levels))
    return Type("level", values, ", ".join(dict.fromkeys(r.name for r in ratings)))


def join(a: Type, b: Type) -> Type:
    """The type of `if c then a else b` (the types pass reports branches that do not agree)."""
    if a.kind == "unknown":
        return b
    if b.kind == "unknown" or a == b:
        return a
    if a.numeric and b.numeric:
        return NUMBER
    if a.kind == b.kind == "level" and len(b.values) > len(a.values) and fits(a.values, b.values):
        return b  # the longer list orders both branches
    return a


def join_all(types: list[Type]) -> Type:
    out = UNKNOWN
    for t in types:
        out = join(out, t)
    return out if out.kind != "unknown" else NUMBER


# ---------------------------------------------------------------- symbols and results

@dataclass(frozen=True, slots=True)
class Sym:
    """What one part of a name stands for."""

    kind: SymKind
    name: str
    type: Type
    deps: tuple[NodeKey, ...] = ()          # graph nodes read by naming it
    uses: tuple[tuple[str, str], ...] = ()  # declarations it counts as using, ("input", "tasks")
    optional: bool = False                  # a `?` field without a default
    dir: str = ""                           # a relation: "up" the tree (unit, parent) or "down"


@dataclass(frozen=True, slots=True)
class Ref:
    """A resolved name: the symbol the whole path ends at, and how it was reached."""

    sym: Sym
    type: Type
    related: bool    # read through a single related entity (`unit.`, `parent.`)
    in_row: bool     # the first part is a field of the row of an enclosing aggregate
    optional: bool   # an optional field of the entity itself, read directly
    dirs: frozenset = frozenset()   # the directions of the relations it goes through


@dataclass(frozen=True)
class Site:
    """An expression root and the role it plays; the types pass judges it by its role."""

    expr: n.Node
    role: str        # measure criterion adjustment condition cap per rollup_score target
    what: str        # "criterion `quantity`"
    entity: str | None
    decl: n.Node | None = None
    scale: n.Node | None = None


@dataclass(frozen=True)
class OwnResult:
    """The `score` and `rating` a rating's conditions read: those of the entity being rated."""

    score: Sym
    rating: Sym


@dataclass(frozen=True)
class Env:
    """Where an expression is evaluated: for whom, on whose behalf, inside which aggregates."""

    entity: str | None
    owner: NodeKey | None = None
    result: OwnResult | None = None
    periods: bool = False
    per: str | None = None   # in a roll-up: its period kind; a related entity's results are its roll-up's
    rows: tuple[Row, ...] = ()
    dirs: frozenset = frozenset()   # relations crossed to reach the rows being aggregated
    quiet: bool = False    # unknown names are not reported (their cause already is)


@dataclass
class Analysis:
    """What scope analysis found in one Program, read by the checker passes and the compiler."""

    refs: dict[int, Ref] = field(default_factory=dict)
    types: dict[int, Type] = field(default_factory=dict)
    problems: dict[tuple, Diagnostic] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    # owner -> what it reads -> {directions crossed: where first written}. A read through `unit` or
    # `parent` goes "up" the tree, through `members`, `leaders` or `children` "down"; a cycle that only
    # ever goes one way ends at the top or bottom of the tree and is no cycle between entities.
    edges: dict[NodeKey, dict[NodeKey, dict[frozenset, Span]]] = field(default_factory=dict)
    # owner -> the nodes it reads from outside its own row (through a relation or inside an aggregate):
    # those values must be written to a table before the owner is computed (compile/planner.py).
    table_reads: dict[NodeKey, set[NodeKey]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    measure_types: dict[str, Type] = field(default_factory=dict)
    measure_order: list[str] = field(default_factory=list)
    enum_fields: dict[str, list[tuple[str, n.Field]]] = field(default_factory=dict)
    incomplete: bool = False   # some reference did not resolve, so `used` may miss what it meant
    # Names inside an aggregate that reach outside the aggregate's own rows in a way the engine does
    # not compute: (name, "row" | "entity" | "result"); the limits pass reports them.
    reach_out: list[tuple[n.Name, str]] = field(default_factory=list)
    # Names that go through the group one score takes (`members.staff`), by id.
    narrowed: set[int] = field(default_factory=set)
    # Input collections named: (name, input, the entity whose rows they are).
    collections: list[tuple[n.Name, str, str]] = field(default_factory=list)

    def type_of(self, e: n.Node) -> Type:
        return self.types.get(id(e), UNKNOWN)
