"""A relation being compiled: a root table, tables joined in by key, and layers of computed columns.

A value that needs another computed value goes one layer above it, so one statement
computes a whole chain of measures, criteria and ratings: each layer is a
`SELECT *, expr AS "col" FROM (layer below)`, and the innermost layer reads the
root table (`b`) and the columns pulled from joined tables. Columns are always named
by quoted identifiers, never by position, and values come in as named parameters.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from kpidsl.sql.quoting import Params, ident

_serial = itertools.count(1)


@dataclass
class Rel:
    root: str                       # a FROM item without alias, e.g. kpi_run."people:base"
    params: Params
    root_cols: frozenset[str] = frozenset()   # columns of the root every layer can read
    joins: list[str] = field(default_factory=list)
    join_alias: dict[tuple, str] = field(default_factory=dict)
    pulled: dict[str, str] = field(default_factory=dict)       # local name -> alias."col"
    layers: list[list[tuple[str, str]]] = field(default_factory=list)
    layer_of: dict[str, int] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)           # on the root rows
    reads: set[str] = field(default_factory=set)                # tables read
    kinds: dict[str, tuple] = field(default_factory=dict)       # computed column -> (kind, levels)
    uid: int = 0                                                # tells relations apart (ids are reused)
    # While set, every column added is computed only on the rows where this boolean column holds
    # (NULL elsewhere): a score's columns cost nothing for the people another score variant takes.
    guard: str | None = None

    def __post_init__(self) -> None:
        self.uid = next(_serial)
        for col in self.root_cols:
            self.layer_of.setdefault(col, -1)

    def copy(self) -> Rel:
        other = copy.deepcopy(self)
        other.uid = next(_serial)
        return other

    def has(self, name: str) -> bool:
        return name in self.layer_of

    def join(self, key: tuple, table: str, on: str, alias_prefix: str = "j") -> str:
        """Join `table` once per key; `on` is the condition with `{a}` standing for the new alias."""
        found = self.join_alias.get(key)
        if found is not None:
            return found
        alias = f"{alias_prefix}{len(self.join_alias)}"
        self.join_alias[key] = alias
        self.joins.append(f"LEFT JOIN {table} AS {alias} ON {on.format(a=alias)}")
        self.reads.add(table)
        return alias

    def pull(self, alias: str, col: str, local: str) -> str:
        """Make `alias.col` readable in every layer as `local`."""
        if local not in self.pulled:
            self.pulled[local] = f"{alias}.{ident(col)}"
            self.layer_of[local] = -1
        return local

    def add(self, name: str, sql: str, deps: Iterable[str], kind: str | None = None,
            levels: tuple[str, ...] = ()) -> str:
        """Compute `name` in the lowest layer above everything it reads."""
        if name in self.layer_of:
            raise AssertionError(f"column {name!r} is computed twice")
        if self.guard is not None:
            sql = f"CASE WHEN {ident(self.guard)} THEN {sql} END"
            deps = [*deps, self.guard]
        level = max((self.layer_of.get(d, -1) for d in deps), default=-1) + 1
        while len(self.layers) <= level:
            self.layers.append([])
        self.layers[level].append((name, sql))
        self.layer_of[name] = level
        if kind is not None:
            self.kinds[name] = (kind, levels)
        return name

    def sql(self, select: str, tail: str = "") -> str:
        """The whole relation with `select` as its outermost select list (and `tail`, e.g. GROUP BY)."""
        pulls = "".join(f", {src} AS {ident(local)}" for local, src in self.pulled.items())
        where = f" WHERE {' AND '.join(self.filters)}" if self.filters else ""
        text = f"SELECT b.*{pulls} FROM {self.root} AS b {' '.join(self.joins)}{where}"
        for i, layer in enumerate(self.layers):
            if not layer:
                continue
            cols = ", ".join(f"{sql} AS {ident(name)}" for name, sql in layer)
            text = f"SELECT *, {cols} FROM ({text}) AS l{i}"
        return f"SELECT {select} FROM ({text}) AS top {tail}".rstrip()


def col(name: str) -> str:
    """A column of the relation being built, by name."""
    return ident(name)
