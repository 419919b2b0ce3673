"""Names in expressions: what a name means in an entity, input or period row, and reading the column it names."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kpidsl.compile.frame import SELF, Anchor, ColInfo, CompileError, Frame, NeedFlush, Scope
from kpidsl.compile.values import _KINDS, V, field_value
from kpidsl.semantic.resolve import Program
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
    """The names an entity row, an input row or a period row offers, in the checker's order."""

    def __init__(self, program: Program) -> None:
        self.p = program
        self.scores_for = {e: [s for s in program.scores.values() if s.entity == e] for e in ("people", "units")}
        self.rating_of: dict[str, str] = {}
        for score in program.scores.values():
            for item in score.items:
                if isinstance(item, n.UseRating) and item.name in program.ratings:
                    self.rating_of.setdefault(score.name, item.name)
        self._own: dict[str, dict[str, tuple]] = {}

    def entity_input(self, entity: str) -> n.Input | None:
        return self.p.entity_input(entity)

    def own(self, entity: str) -> dict[str, tuple]:
        found = self._own.get(entity)
        if found is not None:
            return found
        out: dict[str, tuple] = {}
        for m in self.p.measures.values():
            if m.entity == entity:
                out.setdefault(m.name, ("measure", m.name))
        inp = self.entity_input(entity)
        relation_cols: set[str] = set()
        if entity == "people" and self.p.people is not None:
            relation_cols.add(self.p.people.member_of)
        if entity == "units" and self.p.units is not None and self.p.units.parent:
            relation_cols.add(self.p.units.parent)
        if inp is not None:
            for f in inp.fields:
                if f.name in relation_cols and f.name in ("unit", "parent"):
                    continue
                out.setdefault(f.name, ("field", f))
            for other in self.p.inputs.values():
                if any(f.type.base == "ref" and f.type.ref == inp.name for f in other.fields):
                    out.setdefault(other.name, ("input", other.name))
        if entity == "people" and self.p.people is not None:
            out.setdefault("unit", ("rel", "unit"))
        if entity == "units":
            if self.p.people is not None:
                out.setdefault("members", ("coll", "members"))
                out.setdefault("leaders", ("coll", "leaders"))
            if self.p.units is not None and self.p.units.parent:
                out.setdefault("parent", ("rel", "parent"))
                out.setdefault("children", ("coll", "children"))
        self._own[entity] = out
        return out

    def entity_row(self, entity: str, narrow: str | None) -> dict[str, tuple]:
        out = dict(self.own(entity))
        scores = [narrow] if narrow else [s.name for s in self.scores_for[entity]]
        if scores:
            out.setdefault("score", ("score", narrow))
        if any(s in self.rating_of for s in scores):
            out.setdefault("rating", ("rating", narrow))
        for score in self.scores_for[entity]:
            if narrow in (None, score.name):
                for item in items_of(score):
                    out.setdefault(item.name, ("criterion", item.name))
        return out

    def periods_row(self, entity: str) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        if self.scores_for[entity]:
            out["score"] = ("pscore",)
            if any(s.name in self.rating_of for s in self.scores_for[entity]):
                out["rating"] = ("prating",)
        for name, sym in self.own(entity).items():
            if sym[0] in ("measure", "field"):
                out.setdefault(name, ("p" + sym[0], sym[1]))
        return out

    def input_row(self, input_name: str) -> dict[str, tuple]:
        inp = self.p.inputs[input_name]
        return {f.name: ("ifield", f) for f in inp.fields}

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
        name = ("m:" if kind == "pmeasure" else "f:") + (sym[1] if kind == "pmeasure" else sym[1].name)
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
        column = f"m:{measure}"
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
            return self.read(s, entity, anchor, f"m:{sym[1]}", e)
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
        name = f"f:{f.name}"
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
                raise NeedFlush(entity)
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

