"""Scope analysis: resolve every name in every expression, infer its type, and record what each result reads.

Computed once per Program (see `scope_of`) and shared by the names, types,
cycles, missing and lints passes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeGuard

from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.names import NameResolver, UnknownName
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import (
    BOOL,
    COLLECTION_AGGREGATES,
    DATE,
    ENTITIES,
    FUNCTIONS,
    INTEGER,
    NUMBER,
    TEXT,
    UNKNOWN,
    Analysis,
    Env,
    NodeKey,
    OwnResult,
    Ref,
    Site,
    Sym,
    Type,
    join,
    join_all,
    level_type,
)
from kpidsl.semantic.walk import (
    children,
    part_span,
    rating_exprs,
    rating_uses,
    scale_body,
    score_items,
    text_of,  # noqa: F401 - the compiler imports it from here
    walk,
)
from kpidsl.source import Span
from kpidsl.syntax import nodes as n


def scope_of(ctx) -> Analysis:
    """The scope analysis of ctx.program, computed on first use."""
    found = ctx.cache.get("scope")
    if found is None:
        found = _Analyser(ctx.program).run()
        ctx.cache["scope"] = found
    return found


# ---------------------------------------------------------------- the analysis

class _Analyser(NameResolver):
    """One walk over the Program's declarations, filling an Analysis."""

    def __init__(self, program: Program) -> None:
        super().__init__(program)
        self.a = Analysis()
        self._sites: set[tuple[int, str]] = set()
        self._earlier_where: dict[str, dict[NodeKey, dict[frozenset, Span]]] = {}
        self._earlier_across: dict[str, set[NodeKey]] = {}
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

    # ------------------------------------------------------------ recording a name
    def commit(self, e: n.Name, env: Env, ref: Ref, syms: list[Sym]) -> Type:
        dirs = env.dirs | ref.dirs
        if any(sym.kind == "narrow" for sym in syms):
            self.a.narrowed.add(id(e))
        across = bool(dirs or env.rows)
        for sym in syms:
            self.a.used.update(sym.uses)
            if env.owner is not None:
                edges = self.a.edges.setdefault(env.owner, {})
                for dep in sym.deps:
                    edges.setdefault(dep, {}).setdefault(dirs, e.span)
                if across and sym.deps:
                    self.a.table_reads.setdefault(env.owner, set()).update(sym.deps)
        self.a.refs.setdefault(id(e), ref)
        self.a.types[id(e)] = ref.type
        return ref.type

    def name(self, e: n.Name, env: Env) -> Type:
        try:
            ref, syms = self.resolve(e, env)
        except UnknownName as failure:
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
    def _bare(e: n.Node) -> TypeGuard[n.Name]:
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
        except UnknownName:
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
            for _input_name, f in self.a.enum_fields.get(word, ()):
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
        population = ("population", score.name)
        mine = self.a.edges.setdefault(population, {})
        for dep, labels in self._earlier_where.get(score.entity, {}).items():
            for dirs, span in labels.items():
                mine.setdefault(dep, {}).setdefault(dirs, span)
        across = self.a.table_reads.setdefault(population, set())
        across.update(self._earlier_across.get(score.entity, ()))
        if score.where is not None:
            where_env = Env(score.entity, owner=("where", score.name), quiet=env.quiet)
            self.site(score.where, "condition", f"the `where` of score `{score.name}`", where_env)
            reads = self.a.edges.pop(("where", score.name), {})
            earlier = self._earlier_where.setdefault(score.entity, {})
            for dep, labels in reads.items():
                for dirs, span in labels.items():
                    mine.setdefault(dep, {}).setdefault(dirs, span)
                    earlier.setdefault(dep, {}).setdefault(dirs, span)
            outside = self.a.table_reads.pop(("where", score.name), set())
            across.update(outside)
            self._earlier_across.setdefault(score.entity, set()).update(outside)
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
        firsts = [e.parts[0] for item in rating.items for root in rating_exprs(item)
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
        per = self.p.rollups[via].per if kind == "rollup" and via in self.p.rollups else None
        env = Env(entity, owner=node, result=OwnResult(score_sym, rating_sym), periods=kind == "rollup", per=per,
                  quiet=self._no_entity(entity))
        # Overrides, caps and quotas apply to the level already chosen: their `rating` is not a cycle.
        after = replace(env, result=OwnResult(score_sym, replace(rating_sym, deps=())))
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
                    if node is not None:
                        # The quota ranks by the measure: the rating reads it.
                        reads = self.a.edges.setdefault(node, {}).setdefault(("measure", item.resolve_by), {})
                        reads.setdefault(frozenset(), item.span)

    def _rollup(self, rollup: n.Rollup) -> None:
        env = Env(rollup.entity, owner=("rollup", rollup.name), periods=True, per=rollup.per,
                  quiet=self._no_entity(rollup.entity))
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
