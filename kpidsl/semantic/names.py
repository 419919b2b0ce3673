"""Name tables and resolution: what an expression for a person, unit or row sees; where a dotted name leads."""

from __future__ import annotations

from dataclasses import replace

from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import ENTITIES, NUMBER, UNKNOWN, Env, Ref, Row, Sym, Type, describe, field_type, level_type
from kpidsl.semantic.walk import part_span, score_items
from kpidsl.syntax import nodes as n


class UnknownName(Exception):
    """A name that does not resolve; carries the finding to report."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


class NameResolver:
    """The names visible to an expression and what a dotted name resolves to; records nothing."""

    def __init__(self, program: Program) -> None:
        self.p = program
        self.scores_for = {e: [s for s in program.scores.values() if s.entity == e] for e in ENTITIES}
        self.rating_of: dict[str, str] = {}
        for score in program.scores.values():
            for item in score.items:
                if isinstance(item, n.UseRating) and item.name in program.ratings:
                    self.rating_of.setdefault(score.name, item.name)
        self._own: dict[str, dict[str, Sym]] = {}
        self._rows: dict[Row, dict[str, Sym]] = {}
        # Measures with their inferred types, filled in dependency order as the analysis types them.
        self._measure_syms: dict[str, Sym] = {}

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
                    # Naming the group a score takes reads who that score takes.
                    out.setdefault(score.name, Sym("narrow", score.name, Type("narrow", owner=score.name),
                                                   deps=(("population", score.name),)))
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
        """Resolve a dotted name without recording anything; raises UnknownName."""
        found = self.lookup(e.parts[0], env)
        if found is None:
            raise UnknownName(self._unknown(e, env))
        sym, in_row = found
        if env.per is not None and in_row and sym.kind == "result":
            row = next(r for r in reversed(env.rows) if e.parts[0] in self.row_names(r))
            if row.kind == "entity":   # a period row's `score` is that period's
                sym = self._rollup_result(sym, row.name, env.per)
        syms = [sym]
        t = sym.type
        if len(e.parts) > 1 and t.kind == "collection" and t.row is not None:
            # `count(tasks where tasks.kind = planned)`: inside the aggregate, `tasks.` names this row.
            named = next((r for r in reversed(env.rows) if (r.kind, r.name) == (t.row.kind, t.row.name)), None)
            if named is not None:
                t, in_row = Type("entity", row=named), True
        related = sym.kind == "relation" and t.kind == "entity"
        for i, part in enumerate(e.parts[1:], start=1):
            nxt, nt, names = self.member(t, part)
            if nxt is None:
                raise UnknownName(self._unknown_member(e, i, t, names))
            base = t.elem if t.kind == "column" and t.elem is not None and t.elem.kind == "entity" else t
            if env.per is not None and nxt.kind == "result" and base.row is not None and base.row.kind == "entity":
                nxt = self._rollup_result(nxt, base.row.name, env.per)
                nt = Type("column", row=t.row, elem=nxt.type) if t.kind in ("collection", "column") else nxt.type
            if nxt.kind == "relation" and nt.kind == "entity":
                related = True
            syms.append(nxt)
            t = nt
        optional = sym.optional and len(e.parts) == 1 and not in_row
        dirs = frozenset(s.dir for s in syms if s.dir)
        return Ref(syms[-1], t, related, in_row, optional, dirs), syms

    def _rollup_result(self, sym: Sym, entity: str, per: str) -> Sym:
        """In a roll-up, another entity's `score` and `rating` are those of its own roll-up over the same period.

        Without such a roll-up (or rating) the period's result stays, and the limits pass says why it
        cannot be read (KPI025).
        """
        rollup = rollup_for(self.p, entity, per)
        if rollup is None:
            return sym
        if sym.name == "score":
            return Sym("result", "score", NUMBER, deps=(("rollup", rollup.name),))
        rating = next((i.name for i in rollup.items if isinstance(i, n.UseRating) and i.name in self.p.ratings),
                      None)
        if rating is None:
            return sym
        return Sym("result", "rating", level_type([self.p.ratings[rating]]),
                   deps=(("rating", rating, "rollup", rollup.name),))

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


def rollup_for(program: Program, entity: str, per: str) -> n.Rollup | None:
    """The roll-up whose results `unit.score`, `members.rating`... name in a roll-up per `per`: the first
    roll-up of that entity over the same kind of period."""
    return next((r for r in program.rollups.values() if r.entity == entity and r.per == per), None)
