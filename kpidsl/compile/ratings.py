"""Ratings to SQL: the first level that holds, then overrides, caps against another rating, and quotas.

Each step is a column of levels, so every change is kept: the level chosen, the
level after overrides, after each cap, after each quota. A quota counts with
window functions over the group (`per unit`), and when `resolve by score` moves
the holders beyond the allowance down one level, the highest scores keep the
level and ties go to the smaller key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

from kpidsl.check.ratings import QUOTA_OF_EVERYONE
from kpidsl.compile import columns as C
from kpidsl.compile.expressions import ExprCompiler
from kpidsl.compile.frame import SELF, CompileError, ResultCtx, Scope
from kpidsl.compile.names import Ent
from kpidsl.compile.relation import Rel
from kpidsl.compile.values import V, _deps
from kpidsl.semantic.scope import text_of
from kpidsl.sql.quoting import ident
from kpidsl.syntax import nodes as n


@dataclass
class Change:
    """One step after the level: its node and the column holding the level after it."""

    kind: str              # override | cap | quota
    node: n.Node
    after: str
    index: str | None = None    # overrides: which one applied
    other: str | None = None    # caps: the other entity's level


@dataclass
class QuotaCols:
    node: n.Quota
    group: str
    allowed: str
    holders: str
    before: str
    after: str


@dataclass
class RatingCols:
    rating: n.Rating
    entity: str
    via: str                   # the score or rollup rated
    levels: tuple[str, ...]
    labels: dict[str, str | None]
    level: str                 # the first level that holds
    final: str
    rated: str
    changes: list[Change] = field(default_factory=list)
    quotas: list[QuotaCols] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    before_quotas: str = ""


def levels_of(rating: n.Rating) -> list[n.Level]:
    return [i for i in rating.items if isinstance(i, n.Level)]


class RatingCompiler:
    def __init__(self, ec: ExprCompiler, s: Scope, rating: n.Rating, via: str, score: V, rated: V) -> None:
        self.ec = ec
        self.s = s
        self.rel = s.rel
        self.rating = rating
        self.prefix = C.rating_prefix(rating.name, via)
        self.score = score
        self.rated = rated
        levels = levels_of(rating)
        self.levels = tuple(lv.name for lv in levels)
        self.out = RatingCols(rating, s.entity or "", via, self.levels, {lv.name: lv.label for lv in levels},
                              self.prefix + "level", self.prefix + "final", self.prefix + "rated")

    def col(self, name: str, v: V) -> V:
        if v.kind == "dec":
            v = self.ec.as_dec(v)
        full = self.rel.add(self.prefix + name, v.sql, v.deps, v.kind, self.levels if v.kind == "level" else ())
        self.out.outputs.append(full)
        return V(ident(full), v.kind, frozenset({full}), simple=True, levels=self.levels)

    def lv(self, name: str) -> str:
        return self.ec.param(self.rel, name, "level").sql

    def scope(self, rating: V | None) -> Scope:
        return replace(self.s, result=ResultCtx(self.score, rating, self.levels))

    def compile(self) -> RatingCols:
        ec = self.ec
        rated = self.col("rated", self.rated)
        s0 = self.scope(None)
        whens = []
        deps = []
        fallback = None
        for level in levels_of(self.rating):
            if level.when is None:
                fallback = level
                break
            cond = ec.expr(level.when, s0)
            deps.append(cond)
            whens.append(f"WHEN {cond.sql} THEN {self.lv(level.name)}")
        other = self.lv(fallback.name) if fallback is not None else "NULL"
        current = self.col("level", V(f"CASE WHEN {rated.sql} THEN CASE {' '.join(whens)} ELSE {other} END END",
                                      "level", _deps([rated, *deps])))
        overrides = [i for i in self.rating.items if isinstance(i, n.Override)]
        if overrides:
            s1 = self.scope(current)
            conds = [ec.expr(o.when, s1) for o in overrides]
            index = self.col("override", V(
                f"CASE WHEN {current.sql} IS NULL THEN NULL "
                + " ".join(f"WHEN {c.sql} THEN {i + 1}" for i, c in enumerate(conds)) + " END", "int",
                _deps([current, *conds])))
            cases = " ".join(f"WHEN {i + 1} THEN {self.lv(o.level)}" for i, o in enumerate(overrides))
            after = self.col("overridden", V(f"CASE {index.sql} {cases} ELSE {current.sql} END", "level",
                                             index.deps | current.deps))
            self.out.changes.append(Change("override", overrides[0], self.prefix + "overridden",
                                           index=self.prefix + "override"))
            current = after
        for k, cap in enumerate(i for i in self.rating.items if isinstance(i, n.RatingCap)):
            current = self._cap(k, cap, current)
        quotas = [i for i in self.rating.items if isinstance(i, n.Quota)]
        for k, quota in enumerate(quotas):
            self._quota_inputs(k, quota, current)
        self.out.before_quotas = _name(current)
        if not quotas:
            self.col("final", V(current.sql, "level", current.deps))
        return self.out

    def _cap(self, k: int, cap: n.RatingCap, current: V) -> V:
        ec = self.ec
        s1 = self.scope(current)
        other = ec.expr(cap.against, s1)
        if other.kind != "level":
            raise CompileError("a cap names another rating, such as `unit.rating`", cap.against.span)
        other = self.col(f"cap{k}:other", other)
        cond = ec.expr(cap.when, s1) if cap.when is not None else V("TRUE", "bool", simple=True)
        mine = ec.level_index(self.rel, current, self.levels)
        theirs = ec.level_index(self.rel, other, self.levels)
        after = self.col(f"cap{k}", V(
            f"CASE WHEN {current.sql} IS NOT NULL AND coalesce({cond.sql}, FALSE) AND {theirs} > {mine} "
            f"THEN {other.sql} ELSE {current.sql} END", "level", _deps([current, cond, other])))
        self.out.changes.append(Change("cap", cap, self.prefix + f"cap{k}", other=self.prefix + f"cap{k}:other"))
        return after

    def _quota_inputs(self, k: int, quota: n.Quota, current: V) -> None:
        """The group and the ranking key of a quota, computed with the levels; the counting comes after."""
        ec = self.ec
        if quota.level not in self.levels:
            raise CompileError(f"quota names `{quota.level}`, which is not a level", quota.span)
        s1 = self.scope(current)
        target = ec.name(quota.per, s1)
        if isinstance(target, Ent):
            group = ec.read_base(s1, target.entity, target.anchor, "id")
        elif isinstance(target, V):
            group = V(f"CAST({target.sql} AS VARCHAR)", "text", target.deps)
        else:
            raise CompileError("a quota is counted per a unit or a field", quota.per.span)
        self.col(f"quota{k}:group", group)
        if quota.resolve_by not in (None, "score"):
            entity = self.s.entity
            assert entity is not None   # a rating is computed for people or units
            key = ec.read(s1, entity, SELF, C.measure(quota.resolve_by), quota)
        else:
            key = self.score
        self.col(f"quota{k}:key", ec.as_dec(key) if key.kind in ("int", "dec") else key)


def quota_sql(rc: RatingCols, k: int, quota: n.Quota, cur: str, rel: Rel, ec: ExprCompiler) -> str:
    """One narrow pass over the rated: per group, how many hold the level and its `of` level; each holder's rank."""
    prefix = rc.final.rsplit(":", 1)[0] + ":"
    s = Scope(rel, "entity", rc.entity)
    cur_v = ec.read(s, rc.entity, SELF, cur)
    group = ec.read(s, rc.entity, SELF, f"{prefix}quota{k}:group")
    key = ec.read(s, rc.entity, SELF, f"{prefix}quota{k}:key")
    level = ec.param(rel, quota.level, "level").sql
    if quota.of == QUOTA_OF_EVERYONE:
        counted = f"count({cur_v.sql})"
    else:
        counted = f"count(*) FILTER (WHERE {cur_v.sql} = {ec.param(rel, quota.of, 'level').sql})"
    window = f"OVER (PARTITION BY {group.sql})"
    select = (f'"_e", {counted} {window} AS "of", count(*) FILTER (WHERE {cur_v.sql} = {level}) {window} AS "holders", '
              f'row_number() OVER (PARTITION BY {group.sql}, ({cur_v.sql} = {level}) '
              f'ORDER BY {key.sql} DESC NULLS LAST, "id" ASC) AS "rank"')
    return rel.sql(select, f"WHERE {cur_v.sql} IS NOT NULL")


def finish_quota(rc: RatingCols, k: int, quota: n.Quota, cur: str, s: Scope, table: str, ec: ExprCompiler,
                 last: bool) -> list[str]:
    """The level after the quota, read from its counting pass; returns the columns it adds."""
    rel = s.rel
    prefix = rc.final.rsplit(":", 1)[0] + ":"
    added: list[str] = []
    levels = rc.levels

    def col(name: str, v: V) -> V:
        full = rel.add(prefix + name, v.sql, v.deps, v.kind, levels if v.kind == "level" else ())
        added.append(full)
        return V(ident(full), v.kind, frozenset({full}), simple=True, levels=levels)

    alias = rel.join(("quota", table), table, '{a}."_e" = b."_e"', "q")
    pulled = {c: rel.pull(alias, c, f"{alias}.{c}") for c in ("of", "holders", "rank")}
    current = ec.read(s, rc.entity, SELF, cur)
    share: Fraction = quota.at_most.value
    allowed = col(f"quota{k}:allowed", V(
        f"((CAST({ident(pulled['of'])} AS HUGEINT) * CAST({rel.params.add(share.numerator)} AS HUGEINT)) "
        f"// CAST({rel.params.add(share.denominator)} AS HUGEINT))", "int", frozenset({pulled["of"]})))
    holders = col(f"quota{k}:holders", V(ident(pulled["holders"]), "int", frozenset({pulled["holders"]})))
    index = levels.index(quota.level)
    out = QuotaCols(quota, prefix + f"quota{k}:group", prefix + f"quota{k}:allowed", prefix + f"quota{k}:holders",
                    cur, cur)
    if quota.resolve_by is not None and index + 1 < len(levels):
        level = ec.param(rel, quota.level, "level").sql
        lower = ec.param(rel, levels[index + 1], "level").sql
        rank = V(ident(pulled["rank"]), "int", frozenset({pulled["rank"]}), simple=True)
        after = col(f"quota{k}", V(
            f"CASE WHEN {current.sql} = {level} AND {holders.sql} > {allowed.sql} AND {rank.sql} > {allowed.sql} "
            f"THEN {lower} ELSE {current.sql} END", "level", _deps([current, holders, allowed, rank])))
        rc.changes.append(Change("quota", quota, prefix + f"quota{k}"))
        out.after = prefix + f"quota{k}"
    else:
        after = current
    rc.quotas.append(out)
    if last:
        col("final", V(after.sql, "level", after.deps))
    rc.outputs.extend(added)
    return added


def level_reason(level: n.Level) -> str:
    return f"when {text_of(level.when, 200)}" if level.when is not None else "otherwise"


def _name(v: V) -> str:
    """The column a simple value reads."""
    (only,) = v.deps
    return only
