"""Reading what a name names: the semantic name tables turned into reads of columns, entities and collections."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kpidsl.compile import columns as C
from kpidsl.compile.frame import SELF, Anchor, ColInfo, CompileError, Frame, Scope
from kpidsl.compile.values import _KINDS, V, field_value
from kpidsl.semantic.names import NameResolver
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import Row, Sym
from kpidsl.sql.quoting import ident
from kpidsl.syntax import nodes as n


@dataclass(frozen=True)
class Ent:
    """A single related entity: its kind and where its `_e` is."""

    entity: str
    anchor: Anchor


@dataclass(frozen=True)
class Coll:
    """A collection of rows owned by one entity: input rows, members, leaders, children or periods."""

    kind: str                  # input | members | leaders | children | periods
    source: str                # the input, or the row entity (people/units)
    owner: str                 # the owner entity
    anchor: Anchor             # the owner's `_e`, in the relation that reads the aggregate
    narrow: str | None = None  # people/units rows scored by this score only
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    """`tasks.coefficient`: a column of a collection's rows (only meaningful inside an aggregate)."""

    coll: Coll
    rest: tuple[str, ...]


class Impure(Exception):
    """A shared scan's row expression read something outside the row."""


class Names:
    """The names an entity row, an input row or a period row offers, as the semantic name tables say.

    The tables are `semantic.names.NameResolver`'s, the ones the checker resolves names with; this
    class only says what the compiler reads for each kind of symbol: ("measure", name), ("field",
    Field), ("input", name), ("rel", "unit"|"parent"), ("coll", "members"|"leaders"|"children"),
    ("score"|"rating", narrow), ("criterion", name), and in period rows ("pscore",), ("prating",),
    ("pmeasure", name), ("pfield", Field).
    """

    def __init__(self, program: Program) -> None:
        self.p = program
        self.resolver = NameResolver(program)
        self.scores_for = self.resolver.scores_for
        self.rating_of = self.resolver.rating_of
        self._own: dict[str, dict[str, tuple]] = {}
        self._entity_rows: dict[tuple[str, str | None], dict[str, tuple]] = {}

    def entity_input(self, entity: str) -> n.Input | None:
        return self.p.entity_input(entity)

    def _field(self, entity_or_input: str, name: str, entity: bool = True) -> n.Field:
        inp = self.p.entity_input(entity_or_input) if entity else self.p.inputs[entity_or_input]
        return next(f for f in inp.fields if f.name == name)

    def _read(self, sym: Sym, entity: str, narrow: str | None) -> tuple | None:
        kind = sym.kind
        if kind == "measure":
            return ("measure", sym.name)
        if kind == "field":
            return ("field", self._field(entity, sym.name))
        if kind == "collection":
            return ("input", sym.name)
        if kind == "relation":
            return ("rel" if sym.name in ("unit", "parent") else "coll", sym.name)
        if kind == "result":
            return (sym.name, narrow)
        if kind == "criterion":
            return ("criterion", sym.name)
        return None   # a score's group (`members.staff`) is a narrowing, see `narrows`

    def own(self, entity: str) -> dict[str, tuple]:
        found = self._own.get(entity)
        if found is None:
            found = self._own[entity] = {name: self._read(sym, entity, None)
                                         for name, sym in self.resolver.own_names(entity).items()}
        return found

    def entity_row(self, entity: str, narrow: str | None) -> dict[str, tuple]:
        found = self._entity_rows.get((entity, narrow))
        if found is None:
            syms = self.resolver.row_names(Row("entity", entity, narrow))
            found = {name: read for name, sym in syms.items() if (read := self._read(sym, entity, narrow))}
            self._entity_rows[(entity, narrow)] = found
        return found

    def periods_row(self, entity: str) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        for name, sym in self.resolver.row_names(Row("periods", entity)).items():
            if sym.kind == "result":
                out[name] = ("pscore",) if name == "score" else ("prating",)
            elif sym.kind == "measure":
                out[name] = ("pmeasure", sym.name)
            elif sym.kind == "field":
                out[name] = ("pfield", self._field(entity, sym.name))
        return out

    def input_row(self, input_name: str) -> dict[str, tuple]:
        return {name: ("ifield", self._field(input_name, name, entity=False))
                for name in self.resolver.row_names(Row("input", input_name))}

    def narrows(self, entity: str) -> set[str]:
        return {s.name for s in self.scores_for[entity]}


def items_of(block) -> list:
    """Every criterion, group, bonus and penalty of a score, parents before children."""
    out = []
    stack = list(reversed(block.items))
    while stack:
        item = stack.pop()
        if isinstance(item, (n.Criterion, n.Group, n.Adjustment)):
            out.append(item)
        if isinstance(item, n.Group):
            stack.extend(reversed(item.items))
    return out


class NameReader:
    """Resolves a dotted name to a value, a related entity or a collection, and reads the columns it names.

    Mixed into `ExprCompiler`, which gives it the program, the frames, `names` and the entity `results`.
    """

    # ------------------------------------------------------------ names
    def name(self, e: n.Name, s: Scope):
        parts = e.parts
        target, used, scope = self._first(e, s)
        for part in parts[used:]:
            target = self._member(target, part, scope, e)
        return target

    def _first(self, e: n.Name, s: Scope):
        """The meaning of the first part (or of a collection prefix) of a name; (target, parts used, scope)."""
        parts = e.parts
        row = s
        while row is not None and row.kind != "frame":
            if row.prefix and len(parts) > len(row.prefix) and parts[:len(row.prefix)] == row.prefix:
                return ("row", row), len(row.prefix), row
            names = self._row_names(row)
            sym = names.get(parts[0])
            if sym is not None:
                if row is not s:
                    raise CompileError(f"`{e.dotted}` reads a row of an enclosing aggregate; write it as a measure",
                                       e.span)
                return self._row_sym(sym, row, e), 1, row
            row = row.outer
        frame = row
        if frame is None:
            raise CompileError(f"`{e.dotted}` cannot be read here", e.span)
        first = parts[0]
        sym = self.names.own(frame.entity).get(first)
        # The collection prefix rule: `tasks.x` inside an aggregate over tasks names the row.
        if sym is not None and len(parts) > 1 and sym[0] in ("input", "coll"):
            for row in _rows(s):
                if _same_rows(row, sym, frame.entity):
                    return ("row", row), 1, row
        # Outside every row: the frame's own names, read from the innermost relation.
        reader = s
        anchor = SELF
        if s is not frame:
            if s.outer is not frame:
                raise CompileError(f"`{e.dotted}` reads the entity from inside nested aggregates; "
                                   "write the inner aggregate as a measure", e.span)
            if s.pure:
                raise Impure()
            anchor = s.owner
        if frame.result is not None and first in ("score", "rating"):
            if s is not frame:
                raise CompileError(f"`{first}` cannot be read inside an aggregate", e.span)
            value = frame.result.score if first == "score" else frame.result.rating
            if value is None:
                raise CompileError("`rating` is not decided yet where it is read", e.span)
            return value, 1, frame
        if frame.periods and first == "periods":
            if s is not frame:
                raise CompileError("`periods` cannot be read inside an aggregate", e.span)
            return Coll("periods", frame.entity, frame.entity, SELF, path=("periods",)), 1, frame
        if sym is None:
            raise CompileError(f"unknown name `{first}`", e.span)
        return self._entity_sym(sym, frame.entity, anchor, reader, e), 1, reader

    def _row_names(self, row: Scope) -> dict[str, tuple]:
        if row.kind == "input":
            return self.names.input_row(row.input)
        if row.kind == "periods":
            return self.names.periods_row(row.entity)
        return self.names.entity_row(row.entity, row.narrow)

    def _row_sym(self, sym: tuple, row: Scope, e: n.Name):
        kind = sym[0]
        if kind == "ifield":
            f = sym[1]
            return field_value(f, ident(f.name), frozenset({f.name}))
        if row.kind == "periods":
            return self._period_value(sym, row, e)
        return self._entity_sym(sym, row.entity, SELF, row, e, narrow=row.narrow)

    def _period_value(self, sym: tuple, row: Scope, e: n.Name) -> V:
        kind = sym[0]
        if kind == "pscore":
            return V(ident("score"), "dec", frozenset({"score"}), simple=True)
        if kind == "prating":
            return V(ident("rating"), "level", frozenset({"rating"}), simple=True,
                     levels=self.results.entity_levels(row.entity))
        name = C.measure(sym[1]) if kind == "pmeasure" else C.field(sym[1].name)
        info = self.period_cols.get(name)
        if info is None:
            if kind == "pfield":
                info = ColInfo(_KINDS.get(sym[1].type.base, "text"))
            else:
                info = self._period_measure(sym[1], row.entity)
                if info is None:
                    raise CompileError(f"measure `{sym[1]}` of each period is not kept for the roll-up", e.span)
            self.period_cols[name] = info
        return V(ident(name), info.kind, frozenset({name}), simple=True, levels=info.levels)

    def _period_measure(self, measure: str, entity: str) -> ColInfo | None:
        """A measure's column as each period computed it: every period computes every measure."""
        owner = getattr(self, "owner", None)
        fr = owner.frames.get(entity) if owner is not None else None
        column = C.measure(measure)
        if fr is None or column not in fr.tables:
            return None
        info = fr.info.get(column)
        if info is None:
            kind = owner.measure_cols.get(measure, {}).get("kind")
            info = ColInfo(kind) if kind else None
        return info

    def _entity_sym(self, sym: tuple, entity: str, anchor: Anchor, s: Scope, e: n.Name, narrow: str | None = None):
        kind = sym[0]
        if kind == "measure":
            return self.read(s, entity, anchor, C.measure(sym[1]), e)
        if kind == "field":
            return self.read_field(s, entity, anchor, sym[1])
        if kind == "input":
            return Coll("input", sym[1], entity, anchor, path=(e.parts[0],))
        if kind == "rel":
            column = "_unit_e" if sym[1] == "unit" else "_parent_e"
            return Ent("units", self.anchor(s, entity, anchor, column))
        if kind == "coll":
            source = "units" if sym[1] == "children" else "people"
            return Coll(sym[1], source, entity, anchor)
        if kind == "score":
            return self.results.score(self, s, entity, anchor, sym[1] or narrow, e)
        if kind == "rating":
            return self.results.rating(self, s, entity, anchor, sym[1] or narrow, e)
        if kind == "criterion":
            return self.results.criterion(self, s, entity, anchor, sym[1], narrow, e)
        raise CompileError(f"`{e.dotted}` cannot be read here", e.span)

    def _member(self, target, part: str, s: Scope, e: n.Name):
        if isinstance(target, tuple) and target[0] == "row":
            row = target[1]
            sym = self._row_names(row).get(part)
            if sym is None:
                raise CompileError(f"the rows have no `{part}`", e.span)
            return self._row_sym(sym, row, e)
        if isinstance(target, Ent):
            sym = self.names.entity_row(target.entity, None).get(part)
            if sym is None:
                raise CompileError(f"{target.entity} have no `{part}`", e.span)
            return self._entity_sym(sym, target.entity, target.anchor, s, e)
        if isinstance(target, Coll):
            if target.kind in ("members", "leaders", "children") and target.narrow is None \
                    and part in self.names.narrows(target.source):
                return replace(target, narrow=part)
            return Column(target, (part,))
        if isinstance(target, Column):
            return Column(target.coll, target.rest + (part,))
        raise CompileError(f"`{e.dotted}` has no part `{part}`", e.span)

    # ------------------------------------------------------------ reading columns
    def frame(self, entity: str) -> Frame:
        return self.frames[entity]

    def anchor(self, s: Scope, entity: str, at: Anchor, column: str) -> Anchor:
        """The anchor one relation away: the base column `column` of the entity row at `at`."""
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return Anchor("b", column)
        fr = self.frame(entity)
        alias = s.rel.join(("base", entity, at.sql), fr.base, f'{{a}}."_e" = {at.sql}', "e")
        return Anchor(alias, column)

    def anchor_value(self, s: Scope, at: Anchor) -> V:
        """An anchor as a value of the top layer (a group key, a join key)."""
        if at.alias == "b":
            return V(ident(at.column), "int", frozenset({at.column}), simple=True)
        local = s.rel.pull(at.alias, at.column, f"{at.alias}.{at.column}")
        return V(ident(local), "int", frozenset({local}), simple=True)

    def read_base(self, s: Scope, entity: str, at: Anchor, column: str, kind: str = "text") -> V:
        """A column of the entity's base table (`id`), at an anchor."""
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return V(ident(column), kind, frozenset({column}), simple=True)
        alias = s.rel.join(("base", entity, at.sql), self.frame(entity).base, f'{{a}}."_e" = {at.sql}', "e")
        local = s.rel.pull(alias, column, f"{alias}.{column}")
        return V(ident(local), kind, frozenset({local}), simple=True)

    def read_field(self, s: Scope, entity: str, at: Anchor, f: n.Field) -> V:
        name = C.field(f.name)
        if at == SELF and s.kind in ("frame", "entity") and s.entity == entity:
            return field_value(f, ident(name), frozenset({name}))
        fr = self.frame(entity)
        alias = s.rel.join(("base", entity, at.sql), fr.base, f'{{a}}."_e" = {at.sql}', "e")
        local = s.rel.pull(alias, name, f"{alias}.{name}")
        return field_value(f, ident(local), frozenset({local}))

    def read(self, s: Scope, entity: str, at: Anchor, column: str, e: n.Node | None = None) -> V:
        """A computed column of the entity row at `at`: from the stage being built, or from its table."""
        fr = self.frame(entity)
        info = fr.info.get(column)
        own = at == SELF and s.kind == "frame" and s.entity == entity
        if own and s.rel.has(column):
            return V(ident(column), info.kind if info else "dec", frozenset({column}), simple=True,
                     levels=info.levels if info else ())
        table = fr.tables.get(column)
        if fr.rec_table is not None and column in fr.rec_cols and not own:
            table = fr.rec_table
        if table is None:
            if fr.pending is not None and column in fr.pending.outputs:
                # The planner writes a stage out before a rule that reads it from outside (the graph's
                # table_reads); reaching this is a read the scope analysis did not record.
                raise CompileError(f"`{column}` of {entity} is read from outside its stage before the stage is "
                                   "written", getattr(e, "span", None))
            what = column.split(":", 1)[-1]
            raise CompileError(f"`{what}` is read before it is computed", getattr(e, "span", None))
        alias = s.rel.join(("table", table, at.sql), table, f'{{a}}."_e" = {at.sql}', "t")
        local = column if at == SELF and s.kind in ("frame", "entity") and s.entity == entity \
            else f"{alias}.{column}"
        local = s.rel.pull(alias, column, local)
        return V(ident(local), info.kind if info else "dec", frozenset({local}), simple=True,
                 levels=info.levels if info else ())


def _rows(s: Scope):
    while s is not None and s.kind != "frame":
        yield s
        s = s.outer


def _same_rows(row: Scope, sym: tuple, entity: str) -> bool:
    if sym[0] == "input":
        return row.kind == "input" and row.input == sym[1]
    if sym[0] == "coll":
        source = "units" if sym[1] == "children" else "people"
        return row.kind == "entity" and row.entity == source
    return False

