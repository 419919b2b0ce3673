"""Scope analysis: resolve every name in every expression, infer its type, and record what each result reads.

Computed once per Program (see `scope_of`) and shared by the names, types,
cycles, missing and lints passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

from kpidsl import nodes as n
from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.resolve import Program
from kpidsl.source import Span

# A node of the dependency graph: ("measure", m), ("score", s), ("rollup", y),
# or ("rating", r, "score"|"rollup", via): a rating is computed once per score
# (or rollup) that uses it, so that the staff rating and the leader rating of
# one `rating` declaration are separate steps.
NodeKey = tuple

ENTITIES = ("people", "units")
COLLECTION_AGGREGATES = ("count", "sum", "mean", "share")
FUNCTIONS = ("count", "sum", "mean", "min", "max", "share", "round", "abs")


# ---------------------------------------------------------------- types

@dataclass(frozen=True, slots=True)
class Row:
    """What one element of a collection is: an input's row, a person or unit, or a period result."""

    kind: str            # "input" | "entity" | "periods"
    name: str            # the input's name, or "people" / "units"
    score: str | None = None   # people or units narrowed to those scored by this score


@dataclass(frozen=True, slots=True)
class Type:
    """number, integer, bool, date, text, ref, enum, level, entity, collection, column, narrow or unknown."""

    kind: str
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
    return f"{key[0]} `{key[1]}`"


# ---------------------------------------------------------------- symbols and results

@dataclass(frozen=True, slots=True)
class Sym:
    """What one part of a name stands for."""

    kind: str        # measure field collection relation result narrow criterion periods enum_value level
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
class _Result:
    score: Sym
    rating: Sym


@dataclass(frozen=True)
class Env:
    """Where an expression is evaluated: for whom, on whose behalf, inside which aggregates."""

    entity: str | None
    owner: NodeKey | None = None
    result: _Result | None = None
    periods: bool = False
    rows: tuple[Row, ...] = ()
    dirs: frozenset = frozenset()   # relations crossed to reach the rows being aggregated
    quiet: bool = False    # unknown names are not reported (their cause already is)


@dataclass
class Analysis:
    refs: dict[int, Ref] = field(default_factory=dict)
    types: dict[int, Type] = field(default_factory=dict)
    problems: dict[tuple, Diagnostic] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    # owner -> what it reads -> {directions crossed: where first written}. A read through `unit` or
    # `parent` goes "up" the tree, through `members`, `leaders` or `children` "down"; a cycle that only
    # ever goes one way ends at the top or bottom of the tree and is no cycle between entities.
    edges: dict[NodeKey, dict[NodeKey, dict[frozenset, Span]]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    measure_types: dict[str, Type] = field(default_factory=dict)
    measure_order: list[str] = field(default_factory=list)
    enum_fields: dict[str, list[tuple[str, n.Field]]] = field(default_factory=dict)
    incomplete: bool = False   # some reference did not resolve, so `used` may miss what it meant
    # Names inside an aggregate that reach outside the aggregate's own rows in a way the engine does
    # not compute: (name, "row" | "entity" | "result"); the limits pass reports them.
    reach_out: list[tuple[n.Name, str]] = field(default_factory=list)
    # Input collections named: (name, input, the entity whose rows they are).
    collections: list[tuple[n.Name, str, str]] = field(default_factory=list)

    def type_of(self, e: n.Node) -> Type:
        return self.types.get(id(e), UNKNOWN)


def scope_of(ctx) -> Analysis:
    """The scope analysis of ctx.program, computed on first use."""
    found = ctx.cache.get("scope")
    if found is None:
        found = _Analyser(ctx.program).run()
        ctx.cache["scope"] = found
    return found


# ---------------------------------------------------------------- tree helpers

def children(e: n.Node) -> Iterator[n.Node]:
    """The direct sub-expressions of an expression (a deduction's `per` and `unless` included)."""
    if isinstance(e, (n.Neg, n.Not)):
        yield e.operand
    elif isinstance(e, (n.Arith, n.BoolOp)):
        yield from e.operands
    elif isinstance(e, n.Compare):
        yield e.left
        yield e.right
    elif isinstance(e, n.InList):
        yield e.operand
        yield from e.items
    elif isinstance(e, n.IsMissing):
        yield e.operand
    elif isinstance(e, n.If):
        yield e.cond
        yield e.then
        yield e.otherwise
    elif isinstance(e, n.Call):
        yield from e.args
        if e.where is not None:
            yield e.where
        if e.deduction is not None:
            yield e.deduction.per
            if e.deduction.unless is not None:
                yield e.deduction.unless


def walk(e: n.Node) -> Iterator[n.Node]:
    """Every node of an expression, parents before children, without recursion."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(children(node))))


def text_of(e: n.Node, limit: int = 60) -> str:
    """The source text of a node, shortened for messages."""
    span = e.span
    text = " ".join(span.source.text[span.start:span.end].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def part_span(name: n.Name, index: int) -> Span:
    """The span of one part of a dotted name."""
    span = name.span
    text = span.source.text[span.start:span.end]
    pos = 0
    for i, part in enumerate(name.parts):
        found = text.find(part, pos)
        if found < 0:
            return span
        if i == index:
            return span.source.span(span.start + found, span.start + found + len(part))
        pos = found + len(part)
    return span


_MASK = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def word_span(span: Span, pattern: str, start: int = 0) -> Span:
    """The span of group 1 of `pattern` inside `span`, strings and comments ignored; else `span`."""
    text = span.source.text[span.start:span.end]
    masked = _MASK.sub(lambda m: " " * len(m.group(0)), text)
    found = re.compile(pattern).search(masked, start)
    if not found:
        return span
    return span.source.span(span.start + found.start(1), span.start + found.end(1))


def head_span(node: n.Node) -> Span:
    """A declaration's span up to its `{`: where its options are written."""
    span = node.span
    text = span.source.text[span.start:span.end]
    brace = text.find("{")
    return span.source.span(span.start, span.start + brace) if brace >= 0 else span


def name_span(node: n.Node, keyword: str, name: str) -> Span:
    """The span of the name written after `keyword` in a declaration such as `measure done ...`."""
    return word_span(node.span, rf"\b{keyword}\s+({re.escape(name)})\b")


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


def score_items(score: n.Score | n.Group) -> Iterator[n.Node]:
    """Every item of a score, groups before what they hold, without recursion."""
    stack = list(reversed(score.items))
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, n.Group):
            stack.extend(reversed(item.items))


def rating_uses(program: Program) -> dict[str, list[tuple[str, str, str]]]:
    """For each rating, the (entity, "score"|"rollup", name) of every score or rollup that uses it."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for score in program.scores.values():
        for item in score.items:
            if isinstance(item, n.UseRating):
                out.setdefault(item.name, []).append((score.entity, "score", score.name))
    for rollup in program.rollups.values():
        for item in rollup.items:
            if isinstance(item, n.UseRating):
                out.setdefault(item.name, []).append((rollup.entity, "rollup", rollup.name))
    return out


def scale_body(program: Program, criterion: n.Criterion) -> n.Node | None:
    if isinstance(criterion.scale, str):
        scale = program.scales.get(criterion.scale)
        return scale.body if scale is not None else None
    return criterion.scale


# ---------------------------------------------------------------- the analysis

class _Failure(Exception):
    """A name that does not resolve; carries the finding to report."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


class _Analyser:
    """One walk over the Program's declarations, filling an Analysis."""

    def __init__(self, program: Program) -> None:
        self.p = program
        self.a = Analysis()
        self.scores_for = {e: [s for s in program.scores.values() if s.entity == e] for e in ENTITIES}
        self.rating_of: dict[str, str] = {}
        for score in program.scores.values():
            for item in score.items:
                if isinstance(item, n.UseRating) and item.name in program.ratings:
                    self.rating_of.setdefault(score.name, item.name)
        self._own: dict[str, dict[str, Sym]] = {}
        self._rows: dict[Row, dict[str, Sym]] = {}
        self._sites: set[tuple[int, str]] = set()
        self._measure_syms: dict[str, Sym] = {}
        self._earlier_where: dict[str, dict[NodeKey, dict[frozenset, Span]]] = {}
        for inp in program.inputs.values():
            for f in inp.fields:
                if f.type.base == "enum":
                    for value in f.type.values:
                        self.a.enum_fields.setdefault(value, []).append((inp.name, f))

    def run(self) -> Analysis:
        self._uses_of_declarations()
        self._measures()
        for score in self.p.scores.values():
            self._score(score)
        self._ratings()
        for rollup in self.p.rollups.values():
            self._rollup(rollup)
        people = self.p.people
        if people is not None and people.leader_when is not None:
            self.site(people.leader_when, "condition", "`leader when`", Env("people", quiet=self._no_entity("people")))
        for test in self.p.tests:
            for item in test.items:
                if isinstance(item, n.Expect):
                    self._expect(item)
        return self.a

    # ------------------------------------------------------------ name tables
    def _no_entity(self, entity: str) -> bool:
        return self.p.entity_input(entity) is None

    def own_names(self, entity: str) -> dict[str, Sym]:
        """Names an expression for one person or unit sees: measures, fields, collections, relations."""
        cached = self._own.get(entity)
        if cached is not None:
            return cached
        out: dict[str, Sym] = {}
        for m in self.p.measures.values():
            if m.entity == entity:
                out.setdefault(m.name, Sym("measure", m.name, UNKNOWN,
                                           deps=(("measure", m.name),), uses=(("measure", m.name),)))
        inp = self.p.entity_input(entity)
        relation_cols: set[str] = set()
        if entity == "people" and self.p.people is not None:
            relation_cols.add(self.p.people.member_of)
        if entity == "units" and self.p.units is not None and self.p.units.parent:
            relation_cols.add(self.p.units.parent)
        if inp is not None:
            for f in inp.fields:
                if f.name in relation_cols and f.name in ("unit", "parent"):
                    continue  # `unit`/`parent` is the relation built on this column
                out.setdefault(f.name, Sym("field", f.name, field_type(f),
                                           optional=f.type.optional and f.default is None))
            for other in self.p.inputs.values():
                if any(f.type.base == "ref" and f.type.ref == inp.name for f in other.fields):
                    out.setdefault(other.name, Sym("collection", other.name,
                                                   Type("collection", row=Row("input", other.name)),
                                                   uses=(("input", other.name),)))
        for name, sym in self._relations(entity).items():
            out.setdefault(name, sym)
        self._own[entity] = out
        return out

    def _relations(self, entity: str) -> dict[str, Sym]:
        unit = Type("entity", row=Row("entity", "units"))
        units = Type("collection", row=Row("entity", "units"))
        people = Type("collection", row=Row("entity", "people"))
        out: dict[str, Sym] = {}
        if entity == "people" and self.p.people is not None:
            out["unit"] = Sym("relation", "unit", unit, dir="up")
        if entity == "units":
            if self.p.people is not None:
                out["members"] = Sym("relation", "members", people, dir="down")
                out["leaders"] = Sym("relation", "leaders", people, dir="down")
            if self.p.units is not None and self.p.units.parent:
                out["parent"] = Sym("relation", "parent", unit, dir="up")
                out["children"] = Sym("relation", "children", units, dir="down")
        return out

    def results(self, entity: str, score: str | None) -> dict[str, Sym]:
        """`score` and `rating` of a person or unit (of one score, if narrowed)."""
        names = [score] if score else [s.name for s in self.scores_for[entity]]
        out: dict[str, Sym] = {}
        if names:
            out["score"] = Sym("result", "score", NUMBER, deps=tuple(("score", s) for s in names))
        rated = [(self.rating_of[s], s) for s in names if s in self.rating_of]
        if rated:
            ratings = [self.p.ratings[r] for r, _ in rated]
            out["rating"] = Sym("result", "rating", level_type(ratings),
                                deps=tuple(("rating", r, "score", s) for r, s in rated))
        return out

    def row_names(self, row: Row) -> dict[str, Sym]:
        cached = self._rows.get(row)
        if cached is not None:
            return cached
        out: dict[str, Sym] = {}
        if row.kind == "input":
            inp = self.p.inputs.get(row.name)
            for f in inp.fields if inp else ():
                out.setdefault(f.name, Sym("field", f.name, field_type(f)))
        elif row.kind == "periods":
            out.update(self.results(row.name, None))
            for name, sym in self.own_names(row.name).items():
                if sym.kind in ("measure", "field"):
                    out.setdefault(name, sym)
        else:
            out.update(self.own_names(row.name))
            for name, sym in self.results(row.name, row.score).items():
                out.setdefault(name, sym)
            for score in self.scores_for[row.name]:
                if row.score is None:
                    out.setdefault(score.name, Sym("narrow", score.name, Type("narrow", owner=score.name)))
                if row.score in (None, score.name):
                    for item in score_items(score):
                        if isinstance(item, (n.Criterion, n.Group, n.Adjustment)):
                            out.setdefault(item.name, Sym("criterion", item.name, NUMBER,
                                                          deps=(("score", score.name),)))
        self._rows[row] = out
        return out

    # ------------------------------------------------------------ resolving a name
    def _fresh(self, sym: Sym) -> Sym:
        """A measure's symbol with its type as inferred so far (measures are typed in dependency order)."""
        if sym.kind == "measure":
            return self._measure_syms.get(sym.name, sym)
        return sym

    def lookup(self, name: str, env: Env) -> tuple[Sym, bool] | None:
        for row in reversed(env.rows):
            sym = self.row_names(row).get(name)
            if sym is not None and sym.kind != "narrow":
                return self._fresh(sym), True
        if env.result is not None and name in ("score", "rating"):
            return (env.result.score if name == "score" else env.result.rating), False
        if env.periods and name == "periods" and env.entity:
            return Sym("periods", "periods", Type("collection", row=Row("periods", env.entity))), False
        if env.entity:
            sym = self.own_names(env.entity).get(name)
            if sym is not None:
                return self._fresh(sym), False
        return None

    def visible(self, env: Env) -> list[str]:
        names: list[str] = []
        for row in env.rows:
            names.extend(k for k, s in self.row_names(row).items() if s.kind != "narrow")
        if env.result is not None:
            names.extend(("score", "rating"))
        if env.periods:
            names.append("periods")
        if env.entity:
            names.extend(self.own_names(env.entity))
        return names

    def member(self, t: Type, part: str) -> tuple[Sym | None, Type, dict[str, Sym]]:
        """One step along a dotted name: `tasks` -> `tasks.coefficient`, `unit` -> `unit.score`."""
        base = t.elem if t.kind == "column" and t.elem is not None and t.elem.kind == "entity" else t
        if base.kind not in ("entity", "collection") or base.row is None:
            return None, UNKNOWN, {}
        names = self.row_names(base.row)
        sym = names.get(part)
        if sym is None:
            return None, UNKNOWN, names
        sym = self._fresh(sym)
        if sym.kind == "narrow":
            narrowed = replace(base, row=replace(base.row, score=sym.name))
            return sym, (replace(t, elem=narrowed) if t.kind == "column" else narrowed), names
        if t.kind in ("collection", "column"):
            return sym, Type("column", row=t.row, elem=sym.type), names
        return sym, sym.type, names

    def resolve(self, e: n.Name, env: Env) -> tuple[Ref, list[Sym]]:
        """Resolve a dotted name without recording anything; raises _Failure."""
        found = self.lookup(e.parts[0], env)
        if found is None:
            raise _Failure(self._unknown(e, env))
        sym, in_row = found
        syms = [sym]
        t = sym.type
        if len(e.parts) > 1 and t.kind == "collection" and t.row is not None:
            # `count(tasks where tasks.kind = planned)`: inside the aggregate, `tasks.` names this row.
            row = next((r for r in reversed(env.rows) if (r.kind, r.name) == (t.row.kind, t.row.name)), None)
            if row is not None:
                t, in_row = Type("entity", row=row), True
        related = sym.kind == "relation" and t.kind == "entity"
        for i, part in enumerate(e.parts[1:], start=1):
            nxt, nt, names = self.member(t, part)
            if nxt is None:
                raise _Failure(self._unknown_member(e, i, t, names))
            if nxt.kind == "relation" and nt.kind == "entity":
                related = True
            syms.append(nxt)
            t = nt
        optional = sym.optional and len(e.parts) == 1 and not in_row
        dirs = frozenset(s.dir for s in syms if s.dir)
        return Ref(syms[-1], t, related, in_row, optional, dirs), syms

    def _unknown(self, e: n.Name, env: Env) -> Diagnostic:
        first = e.parts[0]
        span = part_span(e, 0)
        if first in ("score", "rating"):
            return Diagnostic("KPI020", f"`{first}` is only available inside a rating, which is decided "
                              "after the score", span,
                              help=f"to use another person's or unit's result, name it, e.g. `unit.{first}`")
        if first == "periods":
            return Diagnostic("KPI020", "`periods` is only available inside a rollup", span,
                              help="use `periods` in a `rollup` block or in a rating that a rollup uses")
        visible = self.visible(env)
        whom = env.entity or "this framework"
        help_line = did_you_mean(first, visible) or (
            f"a name here is a measure or field of {whom}" + (", or a field of the rows being aggregated"
                                                               if env.rows else ""))
        return Diagnostic("KPI020", f"unknown name `{first}`", span, help=help_line)

    def _unknown_member(self, e: n.Name, i: int, t: Type, names: dict[str, Sym]) -> Diagnostic:
        part = e.parts[i]
        prefix = ".".join(e.parts[:i])
        span = part_span(e, i)
        base = t.elem if t.kind == "column" and t.elem is not None and t.elem.kind == "entity" else t
        if base.kind not in ("entity", "collection") or base.row is None:
            return Diagnostic("KPI022", f"`{prefix}` is {describe(t)} and has no field `{part}`", span,
                              help=f"remove `.{part}`")
        row = base.row
        if row.kind == "entity" and part in ("score", "rating"):
            plural = row.name
            if row.score is not None:
                return Diagnostic("KPI020", f"score `{row.score}` uses no rating, so `{prefix}.rating` has no value",
                                  span, help=f"add `rating NAME` to score `{row.score}`")
            if part == "score":
                return Diagnostic("KPI020", f"{plural} have no score: no `score ... for {plural}` is declared", span,
                                  help=f"declare a score for {plural}, or remove this reference")
            return Diagnostic("KPI020", f"{plural} have no rating: no score for {plural} uses a rating", span,
                              help=f"add `rating NAME` to a score for {plural}")
        candidates = [k for k in names]
        if row.kind == "input":
            message = f"input `{row.name}` has no field `{part}`"
            fallback = "its fields are: " + ", ".join(f"`{k}`" for k in candidates) if candidates else None
        elif row.kind == "periods":
            message = f"a period result has no `{part}`"
            fallback = "use `periods.score`, `periods.rating`, or a measure"
        else:
            message = f"{row.name} have no field, measure or result named `{part}`"
            fallback = None
        return Diagnostic("KPI022", message, span, help=did_you_mean(part, candidates) or fallback)

    def commit(self, e: n.Name, env: Env, ref: Ref, syms: list[Sym]) -> Type:
        dirs = env.dirs | ref.dirs
        for sym in syms:
            self.a.used.update(sym.uses)
            if env.owner is not None:
                edges = self.a.edges.setdefault(env.owner, {})
                for dep in sym.deps:
                    edges.setdefault(dep, {}).setdefault(dirs, e.span)
        self.a.refs.setdefault(id(e), ref)
        self.a.types[id(e)] = ref.type
        return ref.type

    def name(self, e: n.Name, env: Env) -> Type:
        try:
            ref, syms = self.resolve(e, env)
        except _Failure as failure:
            self.a.incomplete = True
            if not env.quiet:
                self.problem(failure.diag)
            self.a.types[id(e)] = UNKNOWN
            return UNKNOWN
        if env.rows and not env.quiet:
            self._reach(e, env, ref, syms[0])
        if not env.quiet:
            self._collections(e, env, ref, syms)
        return self.commit(e, env, ref, syms)

    def _collections(self, e: n.Name, env: Env, ref: Ref, syms: list[Sym]) -> None:
        """Which entity each input collection on the path belongs to (its rows are those referring to it)."""
        owner = env.entity
        if ref.in_row:
            owner = next((r.name for r in reversed(env.rows) if r.kind == "entity"
                          and e.parts[0] in self.row_names(r)), None)
        for sym in syms:
            if sym.kind == "collection" and sym.type.row is not None and sym.type.row.kind == "input" and owner:
                self.a.collections.append((e, sym.type.row.name, owner))
            row = sym.type.row
            owner = row.name if row is not None and row.kind == "entity" else None

    def _reach(self, e: n.Name, env: Env, ref: Ref, first: Sym) -> None:
        """Inside an aggregate, a name is computed from the innermost rows, or (one level deep) the entity."""
        if ref.in_row:
            inner = env.rows[-1]
            own = self.row_names(inner).get(e.parts[0])
            prefix = first.kind == "collection" and first.type.row == inner and len(e.parts) > 1
            if not prefix and (own is None or own.kind == "narrow"):
                self.a.reach_out.append((e, "row"))
        elif env.result is not None and (first is env.result.score or first is env.result.rating):
            self.a.reach_out.append((e, "result"))
        elif first.kind == "periods":
            # The periods are a table of their own, not a value each row of another collection can read.
            self.a.reach_out.append((e, "periods"))
        elif len(env.rows) > 1 and first.kind in ("measure", "field", "collection", "relation", "criterion"):
            self.a.reach_out.append((e, "entity"))

    def problem(self, diag: Diagnostic) -> None:
        self.a.incomplete = True
        self.a.problems.setdefault((diag.code, diag.span.file, diag.span.start, diag.message), diag)

    # ------------------------------------------------------------ expressions
    def expr(self, e: n.Node, env: Env) -> Type:
        t = self._infer(e, env)
        self.a.types[id(e)] = t
        return t

    def _infer(self, e: n.Node, env: Env) -> Type:
        if isinstance(e, n.Num):
            return INTEGER if e.unit == "number" and e.value.denominator == 1 else NUMBER
        if isinstance(e, n.Text):
            return TEXT
        if isinstance(e, n.DateLit):
            return DATE
        if isinstance(e, n.Bool):
            return BOOL
        if isinstance(e, n.Name):
            return self.name(e, env)
        if isinstance(e, n.Neg):
            t = self.expr(e.operand, env)
            return t if t.numeric or t.kind == "column" else NUMBER
        if isinstance(e, n.Arith):
            types = [self.expr(o, env) for o in e.operands]
            column = next((t for t in types if t.kind == "column"), None)
            if column is not None:
                return Type("column", row=column.row, elem=NUMBER)
            if all(t.kind == "integer" for t in types) and "/" not in e.ops:
                return INTEGER
            return NUMBER
        if isinstance(e, (n.Not, n.BoolOp, n.IsMissing)):
            for child in children(e):
                self.expr(child, env)
            return BOOL
        if isinstance(e, n.Compare):
            self._compare(e, env)
            return BOOL
        if isinstance(e, n.InList):
            operand = self._operand(e.operand, None, env)
            for item in e.items:
                self._operand(item, operand, env)
            return BOOL
        if isinstance(e, n.If):
            self.expr(e.cond, env)
            return join(self.expr(e.then, env), self.expr(e.otherwise, env))
        if isinstance(e, n.Call):
            return self._call(e, env)
        return UNKNOWN

    @staticmethod
    def _bare(e: n.Node) -> bool:
        return isinstance(e, n.Name) and len(e.parts) == 1

    def _compare(self, e: n.Compare, env: Env) -> None:
        left, right = e.left, e.right
        if self._bare(left) and self._bare(right) and not self._resolves(left, env):
            # `staff = role`: type the side that is a known name first.
            self._operand(left, self._operand(right, None, env), env)
            return
        self._operand(right, self._operand(left, None, env), env)

    def _resolves(self, e: n.Name, env: Env) -> bool:
        try:
            self.resolve(e, env)
        except _Failure:
            return False
        return True

    def _operand(self, e: n.Node, other: Type | None, env: Env) -> Type:
        """Type one side of a comparison; a bare name may be a value of the other side's enum or rating."""
        if not self._bare(e):
            return self.expr(e, env)
        word = e.parts[0]
        values = other.scalar() if other is not None else None
        if values is not None and values.kind in ("enum", "level") and word in values.values:
            sym = Sym("enum_value" if values.kind == "enum" else "level", word, values)
            return self.commit(e, env, Ref(sym, values, False, False, False), [])
        if values is None or values.kind not in ("enum", "level") or self._resolves(e, env):
            return self.expr(e, env)
        if values.kind == "enum":
            for input_name, f in self.a.enum_fields.get(word, ()):
                # A value of another enum field: the types pass says which.
                t = Type("enum", f.type.values, f.name)
                return self.commit(e, env, Ref(Sym("enum_value", word, t), t, False, False, False), [])
            if not env.quiet:
                self.problem(Diagnostic(
                    "KPI020", f"`{word}` is not a value of `{values.owner}`", e.span,
                    help=did_you_mean(word, values.values)
                    or f"`{values.owner}` is one of: " + ", ".join(values.values)))
        elif not env.quiet:
            self.problem(Diagnostic(
                "KPI023", f"`{word}` is not a level of rating `{values.owner}`", e.span,
                help=did_you_mean(word, values.values) or "its levels are: " + ", ".join(values.values)))
        self.a.types[id(e)] = UNKNOWN
        return UNKNOWN

    def _call(self, e: n.Call, env: Env) -> Type:
        func = e.func
        aggregate = func in COLLECTION_AGGREGATES or (func in ("min", "max") and len(e.args) == 1)
        if not aggregate:
            types = [self.expr(a, env) for a in e.args]
            inner = replace(env, quiet=True) if func not in FUNCTIONS else env
            if e.where is not None:
                self.expr(e.where, inner)
            self._deduction(e, inner)
            if func in ("min", "max"):
                return join_all(types)
            if func == "abs" and types:
                return types[0] if types[0].numeric else NUMBER
            return NUMBER if func in FUNCTIONS else UNKNOWN
        arg = self.expr(e.args[0], env) if e.args else UNKNOWN
        for extra in e.args[1:]:
            self.expr(extra, env)
        if arg.kind in ("collection", "column") and arg.row is not None:
            crossed = [self.a.refs[id(x)].dirs for x in walk(e.args[0])
                       if isinstance(x, n.Name) and id(x) in self.a.refs]
            inner = replace(env, rows=env.rows + (arg.row,), dirs=env.dirs.union(*crossed))
        else:
            inner = replace(env, quiet=True)   # the argument is already wrong; do not pile on
        if e.where is not None:
            self.expr(e.where, inner)
        self._deduction(e, inner)
        if func == "count":
            return INTEGER
        if func in ("share", "mean"):
            return NUMBER
        elem = arg.scalar() if arg.kind == "column" else UNKNOWN
        if func == "sum":
            return INTEGER if elem.kind == "integer" else NUMBER
        return elem if elem.kind in ("number", "integer", "date") else NUMBER

    def _deduction(self, e: n.Call, env: Env) -> None:
        if e.deduction is not None:
            self.name(e.deduction.per, env)
            if e.deduction.unless is not None:
                self.expr(e.deduction.unless, env)

    def site(self, e: n.Node, role: str, what: str, env: Env, decl: n.Node | None = None,
             scale: n.Node | None = None) -> None:
        """Analyse an expression root; the first context it is analysed in is the one judged."""
        self.expr(e, env)
        if (id(e), role) not in self._sites:
            self._sites.add((id(e), role))
            self.a.sites.append(Site(e, role, what, env.entity, decl, scale))

    # ------------------------------------------------------------ declarations
    def _uses_of_declarations(self) -> None:
        for decl in (self.p.units, self.p.people):
            if decl is not None:
                self.a.used.add(("input", decl.input))
        for inp in self.p.inputs.values():
            for f in inp.fields:
                if f.type.base == "ref" and f.type.ref:
                    self.a.used.add(("input", f.type.ref))

    def _measures(self) -> None:
        measures = self.p.measures
        reads = {name: [p for e in walk(m.expr) if isinstance(e, n.Name) for p in e.parts if p in measures]
                 for name, m in measures.items()}
        order: list[str] = []
        state: dict[str, int] = {}
        for root in measures:
            if root in state:
                continue
            stack = [(root, iter(reads[root]))]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    state[node] = 2
                    order.append(node)
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(reads[nxt])))
        self.a.measure_order = order
        for name in order:
            m = measures[name]
            env = Env(m.entity, owner=("measure", name), quiet=self._no_entity(m.entity))
            self.site(m.expr, "measure", f"measure `{name}`", env, decl=m)
            t = self.a.measure_types[name] = self.a.type_of(m.expr)
            self._measure_syms[name] = Sym("measure", name, t, deps=(("measure", name),), uses=(("measure", name),))

    def _score(self, score: n.Score) -> None:
        env = Env(score.entity, owner=("score", score.name), quiet=self._no_entity(score.entity))
        # An entity takes the first score whose `where` holds, so who a score takes also depends on
        # what the `where` of every earlier score for the same entity reads.
        mine = self.a.edges.setdefault(("score", score.name), {})
        for dep, labels in self._earlier_where.get(score.entity, {}).items():
            for dirs, span in labels.items():
                mine.setdefault(dep, {}).setdefault(dirs, span)
        if score.where is not None:
            where_env = Env(score.entity, owner=("where", score.name), quiet=env.quiet)
            self.site(score.where, "condition", f"the `where` of score `{score.name}`", where_env)
            reads = self.a.edges.pop(("where", score.name), {})
            earlier = self._earlier_where.setdefault(score.entity, {})
            for dep, labels in reads.items():
                for dirs, span in labels.items():
                    mine.setdefault(dep, {}).setdefault(dirs, span)
                    earlier.setdefault(dep, {}).setdefault(dirs, span)
        for item in score_items(score):
            if isinstance(item, n.Criterion):
                if isinstance(item.scale, str):
                    self.a.used.add(("scale", item.scale))
                    self.a.incomplete |= item.scale not in self.p.scales
                body = scale_body(self.p, item)
                self.site(item.expr, "criterion", f"criterion `{item.name}`", env, decl=item, scale=body)
                if isinstance(body, n.Target) and isinstance(body.target, n.Name):
                    self.site(body.target, "target", f"the target of the scale of criterion `{item.name}`", env,
                              decl=item)
            elif isinstance(item, n.Adjustment):
                self.site(item.expr, "adjustment", f"{item.kind} `{item.name}`", env, decl=item)
            elif isinstance(item, n.UseRating):
                self.a.used.add(("rating", item.name))
                self.a.incomplete |= item.name not in self.p.ratings

    def _ratings(self) -> None:
        users = rating_uses(self.p)
        for rating in self.p.ratings.values():
            contexts = [u for u in users.get(rating.name, ()) if u[0] in ENTITIES]
            if not contexts:
                contexts = [(self._guess_entity(rating), "", "")]
            for entity, kind, via in contexts:
                self._rating(rating, entity, kind, via)

    def _guess_entity(self, rating: n.Rating) -> str:
        """For a rating no score uses: the entity whose names its conditions mention most."""
        firsts = [e.parts[0] for item in rating.items for root in _rating_exprs(item)
                  for e in walk(root) if isinstance(e, n.Name)]
        best, best_hits = "people", -1
        for entity in ENTITIES:
            if self._no_entity(entity):
                continue
            names = self.own_names(entity)
            hits = sum(1 for f in firsts if f in names)
            if hits > best_hits:
                best, best_hits = entity, hits
        return best

    def _rating(self, rating: n.Rating, entity: str, kind: str, via: str) -> None:
        node = ("rating", rating.name, kind, via) if kind else None
        score_deps = ((kind, via),) if kind else ()
        score_sym = Sym("result", "score", NUMBER, deps=score_deps)
        rating_sym = Sym("result", "rating", level_type([rating]), deps=(node,) if node else ())
        env = Env(entity, owner=node, result=_Result(score_sym, rating_sym), periods=kind == "rollup",
                  quiet=self._no_entity(entity))
        # Overrides, caps and quotas apply to the level already chosen: their `rating` is not a cycle.
        after = replace(env, result=_Result(score_sym, replace(rating_sym, deps=())))
        for item in rating.items:
            if isinstance(item, n.Level) and item.when is not None:
                self.site(item.when, "condition", f"the condition of level `{item.name}`", env)
            elif isinstance(item, n.Override):
                self.site(item.when, "condition", f"the condition of the override to `{item.level}`", after)
            elif isinstance(item, n.RatingCap):
                self.site(item.against, "cap", "a rating cap", after)
                if item.when is not None:
                    self.site(item.when, "condition", "the condition of the cap", after)
            elif isinstance(item, n.Quota):
                self.site(item.per, "per", f"the `per` of the quota on `{item.level}`", after)
                if item.resolve_by in self.p.measures:
                    self.a.used.add(("measure", item.resolve_by))

    def _rollup(self, rollup: n.Rollup) -> None:
        env = Env(rollup.entity, owner=("rollup", rollup.name), periods=True, quiet=self._no_entity(rollup.entity))
        for item in rollup.items:
            if isinstance(item, n.RollupScore):
                self.site(item.expr, "rollup_score", f"the score of rollup `{rollup.name}`", env)
            elif isinstance(item, n.NotEvaluated):
                self.site(item.when, "condition", "the `not evaluated` condition", env)
            elif isinstance(item, n.UseRating):
                self.a.used.add(("rating", item.name))
                self.a.incomplete |= item.name not in self.p.ratings

    def _expect(self, item: n.Expect) -> None:
        """`expect person p1 PATH = VALUE`: PATH names a result, measure or criterion of that entity."""
        entity = "people" if item.entity == "person" else "units"
        if self._no_entity(entity):
            return
        parts = item.path.parts
        first = parts[0]
        scores = {s.name: s for s in self.scores_for[entity]}
        rollups = {r.name: r for r in self.p.rollups.values() if r.entity == entity}
        measures = {m.name for m in self.p.measures.values() if m.entity == entity}
        criteria = {i.name for s in scores.values() for i in score_items(s)
                    if isinstance(i, (n.Criterion, n.Group, n.Adjustment))}
        ratings: list[n.Rating] = []
        rest = parts[1:]
        if first in measures:
            self.a.used.add(("measure", first))
        elif first in ("score", "rating"):
            ratings = [self.p.ratings[self.rating_of[s]] for s in scores if s in self.rating_of]
        elif first in scores or first in rollups:
            decl = scores.get(first) or rollups[first]
            names = [u.name for u in decl.items if isinstance(u, n.UseRating) and u.name in self.p.ratings]
            inner = {i.name for i in score_items(decl) if isinstance(i, (n.Criterion, n.Group, n.Adjustment))} \
                if isinstance(decl, n.Score) else set()
            if rest and rest[0] not in ("score", "rating") and rest[0] not in inner:
                self.problem(Diagnostic("KPI022", f"`{first}` has no criterion or result `{rest[0]}`",
                                        part_span(item.path, 1),
                                        help=did_you_mean(rest[0], ["score", "rating", *inner])
                                        or "name `score`, `rating` or one of its criteria"))
                return
            if rest and rest[0] == "rating":
                ratings = [self.p.ratings[r] for r in names]
        elif first not in criteria:
            whom = "a person" if entity == "people" else "a unit"
            self.problem(Diagnostic(
                "KPI020", f"`{first}` is not a measure, criterion or result of {whom}", part_span(item.path, 0),
                help=did_you_mean(first, [*measures, *criteria, *scores, *rollups, "score", "rating"])
                or "expect `score`, `rating`, a measure or a criterion"))
            return
        value = item.value
        is_rating = parts[-1] == "rating"
        if is_rating and ratings and isinstance(value, (n.Name, n.Text)):
            word = value.parts[0] if isinstance(value, n.Name) else value.value
            levels = level_type(ratings)
            if word not in levels.values:
                self.problem(Diagnostic(
                    "KPI023", f"`{word}` is not a level of rating `{levels.owner}`", value.span,
                    help=did_you_mean(word, levels.values) or "its levels are: " + ", ".join(levels.values)))


def _rating_exprs(item: n.Node) -> Iterable[n.Node]:
    if isinstance(item, n.Level) and item.when is not None:
        yield item.when
    elif isinstance(item, n.Override):
        yield item.when
    elif isinstance(item, n.RatingCap):
        yield item.against
        if item.when is not None:
            yield item.when
    elif isinstance(item, n.Quota):
        yield item.per


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
