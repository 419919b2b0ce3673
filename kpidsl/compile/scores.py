"""Scores to SQL: criteria, nested groups, budgets, missing-value policies, bonuses and penalties.

Budgets are exact: in each block the children's shares are whole numbers over a
common denominator (1/3, 1/3, 1/3 -> 1, 1, 1 of 3), so re-normalising when a
criterion drops out is the ratio of two whole numbers, and a contribution is
credit x constant / (product of whole numbers), rounded once by the framework's
rounding. A block's result is the sum of its rounded contributions plus bonuses
minus penalties, kept between 0 and its budget; the score is the top block's
result, so the contributions add up to it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from kpidsl.compile import columns as C
from kpidsl.compile.expressions import ExprCompiler
from kpidsl.compile.frame import SELF, CompileError, Scope
from kpidsl.compile.scales import credit, scale_name
from kpidsl.compile.values import V, _deps
from kpidsl.semantic.scope import scale_body, walk
from kpidsl.semantic.tree import score_total
from kpidsl.sql import decimal as D
from kpidsl.sql.quoting import ident
from kpidsl.syntax import nodes as n

SETTLE_PLACES = 9


@dataclass
class ItemCols:
    """The columns of one item of a score, for the `items` result table."""

    node: n.Node
    path: str
    parent: str | None
    kind: str                      # criterion | group | bonus | penalty
    scale: str | None = None
    value: str | None = None
    value_kind: str = "dec"
    credit: str | None = None
    weight: str | None = None
    # A weight or budget the same for every entity is kept here rather than as a column in every row.
    weight_const: Fraction | None = None
    budget_const: Fraction | None = None
    budget: str | None = None
    contribution: str | None = None
    policy: str | None = None


@dataclass
class ScoreCols:
    score: n.Score
    on: str
    result: str
    status: str
    reason: str
    items: list[ItemCols] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class _Node:
    """Phase one of an item: its value, credit and whether it is present."""

    item: n.Node
    path: str
    cols: ItemCols
    share: Fraction = Fraction(0)
    present: str | None = None          # column; None = always present
    credit: V | None = None             # credit counted (criteria)
    children: list = field(default_factory=list)
    adjustments: list = field(default_factory=list)
    any_child: str | None = None
    exact: V | None = None              # its exact points (12 places), signed for penalties
    result: V | None = None             # groups: the result kept within the budget
    raw: V | None = None


class ScoreCompiler:
    def __init__(self, ec: ExprCompiler, s: Scope, score: n.Score) -> None:
        self.ec = ec
        self.s = s
        self.rel = s.rel
        self.score = score
        self.prefix = C.score_prefix(score.name)
        self.reasons: list[tuple[str, str]] = []     # (condition column, reason text)
        self.out = ScoreCols(score, self.prefix + "on", self.prefix + "score", self.prefix + "status",
                             self.prefix + "reason")

    def col(self, name: str, v: V, keep: bool = True) -> V:
        """A column of the score; `keep=False` for one only the score's own computation reads."""
        if v.kind == "dec":
            v = self.ec.as_dec(v)
        full = self.rel.add(self.prefix + name, v.sql, v.deps, v.kind, v.levels)
        if keep:
            self.out.outputs.append(full)
        return V(ident(full), v.kind, frozenset({full}), simple=True, levels=v.levels)

    # ------------------------------------------------------------ the whole score
    def compile(self) -> ScoreCols:
        # Who the score takes is computed before it (see `population`).
        self.on = self.ec.read(self.s, self.s.entity, SELF, self.out.on)
        self.rel.guard = self.prefix + "on"
        try:
            self._compile_on()
        finally:
            self.rel.guard = None
        return self.out

    def _compile_on(self) -> None:
        """Everything of the score after `on`: computed only for the entities this score takes."""
        ec = self.ec
        total = score_total(self.score)
        root = self._phase1(self.score, "", None, total, self.score.missing, None)
        if root.any_child is not None:
            self.reasons.append((f"NOT {root.any_child}", "the score has no value: every criterion is missing"))
        exact = self._phase2(root, (total, ()))
        # Divisions carry 12 places, so a score that is exactly half-way (85.725) can arrive as
        # 85.724999999999; settling it at 9 places first lets the published rounding see the tie.
        settled = ec.round_to(self.rel, exact, SETTLE_PLACES, "half_up") if ec.places < SETTLE_PLACES else exact
        rounded = ec.lift(self.rel, ec.round_to(self.rel, settled, ec.places), "s")
        self._measure_failures()
        reason_parts = [f"CASE WHEN {cond} THEN {ec.param(self.rel, text, 'text').sql} END"
                        for cond, text in self.reasons]
        deps = {c for cond, _ in self.reasons for c in _cols(cond)}
        if reason_parts:
            reason = V(f"CASE WHEN {self.on.sql} THEN NULLIF(concat_ws('; ', {', '.join(reason_parts)}), '') END",
                       "text", frozenset(deps) | self.on.deps)
        else:
            reason = V("CAST(NULL AS VARCHAR)", "text", simple=True)
        reason = self.col("reason", reason)
        status = self.col("status", V(f"CASE WHEN {self.on.sql} THEN CASE WHEN {reason.sql} IS NULL THEN 'ok' "
                                      f"ELSE 'error' END END", "text", reason.deps | self.on.deps))
        score = self.col("score", V(f"CASE WHEN {status.sql} = 'ok' THEN {rounded.sql} END", "dec",
                                    status.deps | rounded.deps))
        self._phase3(root, score)
        self._collect(root)

    def _collect(self, node: _Node) -> None:
        """The items of the score, each group before what it holds."""
        if node.path:
            self.out.items.append(node.cols)
        for child in node.children:
            if isinstance(child.item, n.Group):
                self._collect(child)
            else:
                self.out.items.append(child.cols)
        self.out.items.extend(a.cols for a in node.adjustments)

    # ------------------------------------------------------------ phase 1: values, credits, presence
    def _phase1(self, block, path: str, parent: str | None, budget: Fraction | None, inherited: str | None,
                above: str | None) -> _Node:
        """`inherited` applies inside the block; `above` is the policy around it (for the block going missing)."""
        node = _Node(block, path, ItemCols(block, path, parent, "group"))
        shared = [i for i in block.items if isinstance(i, (n.Criterion, n.Group))]
        for item in shared:
            share = item.share
            if share is None:
                raise CompileError(f"`{item.name}` has neither a weight nor points", item.span)
            child_path = f"{path}.{item.name}" if path else item.name
            if share.kind == "weight":
                weight = share.amount.value
            else:
                if not budget:
                    raise CompileError(f"the budget around `{item.name}` is zero", item.span)
                weight = share.amount.value / budget
            if isinstance(item, n.Group):
                child_budget = budget * weight if budget is not None else None
                child = self._phase1(item, child_path, path or None, child_budget, item.missing or inherited, inherited)
            else:
                child = self._criterion(item, child_path, path or None, item.missing or inherited)
            child.share = weight
            node.children.append(child)
        for item in block.items:
            if isinstance(item, n.Adjustment):
                child_path = f"{path}.{item.name}" if path else item.name
                node.adjustments.append(self._adjustment(item, child_path, path or None, inherited))
        absent = [c.present for c in node.children if c.present is not None]
        if len(absent) == len(node.children) and absent:
            any_child = self.col(f"{_key(path)}any", V("(" + " OR ".join(absent) + ")", "bool",
                                                       frozenset(_cols(" ".join(absent)))), keep=False)
            node.any_child = any_child.sql
            if isinstance(block, n.Group):
                self._group_missing(node, block, above)
        return node

    def _group_missing(self, node: _Node, group: n.Group, above: str | None) -> None:
        if above == "renormalise":
            node.present = node.any_child
            node.cols.policy = self.col(f"{_key(node.path)}policy", V(
                f"CASE WHEN NOT {node.any_child} THEN 'renormalise' END", "text", frozenset(_cols(node.any_child)))).sql
        elif above == "zero":
            node.cols.policy = self.col(f"{_key(node.path)}policy", V(
                f"CASE WHEN NOT {node.any_child} THEN 'zero' END", "text", frozenset(_cols(node.any_child)))).sql
        else:
            self.reasons.append((f"NOT {node.any_child}", f"group `{group.name}` has no value"
                                 + (" (missing fail)" if above == "fail" else " and no `missing` policy")))
            node.cols.policy = self.col(f"{_key(node.path)}policy", V(
                f"CASE WHEN NOT {node.any_child} THEN 'fail' END", "text", frozenset(_cols(node.any_child)))).sql

    def _criterion(self, item: n.Criterion, path: str, parent: str | None, policy: str | None) -> _Node:
        ec, s = self.ec, self.s
        body = scale_body(self.ec.p, item)
        cols = ItemCols(item, path, parent, "criterion", scale=_scale_label(item, body))
        node = _Node(item, path, cols)
        key = _key(path)
        try:
            value = ec.expr(item.expr, s)
        except CompileError as err:
            raise CompileError(err.message, err.span or item.span) from None
        stored = value if value.kind in ("int", "dec", "bool", "enum", "text", "level", "date") else ec.as_dec(value)
        value_col = self.col(f"{key}value", stored if stored.kind != "int" else ec.as_dec(stored))
        cols.value, cols.value_kind = value_col.sql, value_col.kind
        try:
            raw = credit(ec, s, body, value_col)
        except CompileError as err:
            raise CompileError(err.message, err.span or item.span) from None
        scaled = self.col(f"{key}raw_credit", raw, keep=False)
        missing = f"({scaled.sql} IS NULL)"
        if policy == "zero":
            counted = self.col(f"{key}credit", V(f"coalesce({scaled.sql}, CAST(0 AS DECIMAL(38,12)))", "dec",
                                                 scaled.deps))
        else:
            counted = self.col(f"{key}credit", scaled)
        if policy == "renormalise":
            node.present = self.col(f"{key}present", V(f"NOT {missing}", "bool", scaled.deps), keep=False).sql
        elif policy not in ("zero",):
            text = (f"criterion `{item.name}` has no value (missing fail)" if policy == "fail"
                    else f"criterion `{item.name}` has no value and no `missing` policy")
            self.reasons.append((missing, text))
        shown = policy if policy in ("zero", "renormalise", "fail") else "fail"
        shown_sql = ec.param(self.rel, shown, 'text').sql
        cols.policy = self.col(f"{key}policy", V(f"CASE WHEN {missing} THEN {shown_sql} END",
                                                 "text", scaled.deps)).sql
        cols.credit = counted.sql
        node.credit = counted
        return node

    def _adjustment(self, item: n.Adjustment, path: str, parent: str | None, policy: str | None) -> _Node:
        ec, s = self.ec, self.s
        cols = ItemCols(item, path, parent, item.kind)
        node = _Node(item, path, cols)
        key = _key(path)
        value = ec.expr(item.expr, s)
        if value.kind not in ("int", "dec"):
            raise CompileError(f"{item.kind} `{item.name}` must be a number", item.span)
        value = self.col(f"{key}value", ec.as_dec(value))
        cols.value = value.sql
        missing = f"({value.sql} IS NULL)"
        if policy not in ("zero", "renormalise"):
            text = (f"{item.kind} `{item.name}` has no value (missing fail)" if policy == "fail"
                    else f"{item.kind} `{item.name}` has no value and no `missing` policy")
            self.reasons.append((missing, text))
        shown = policy if policy in ("zero", "renormalise") else "fail"
        shown_sql = ec.param(self.rel, shown, 'text').sql
        cols.policy = self.col(f"{key}policy", V(f"CASE WHEN {missing} THEN {shown_sql} END",
                                                 "text", value.deps)).sql
        amount = V(f"coalesce({value.sql}, CAST(0 AS DECIMAL(38,12)))", "dec", value.deps)
        if item.limit is not None:
            amount = ec.lift(self.rel, amount, "m")
            limit = ec.as_dec(ec.number(self.rel, item.limit.value))
            amount = V(f"(CASE WHEN {amount.sql} > {limit.sql} THEN {limit.sql} ELSE {amount.sql} END)", "dec",
                       amount.deps)
            cols.budget = self.col(f"{key}budget", limit).sql
        if item.kind == "penalty":
            amount = V(f"(-{amount.sql})", "dec", amount.deps)
        node.exact = self.col(f"{key}exact", amount, keep=False)
        return node

    # ------------------------------------------------------------ phase 2: budgets, exact contributions, results
    def _phase2(self, node: _Node, eff: tuple[Fraction, tuple[str, ...]]) -> V:
        """The block's exact result; `eff` is its effective budget: a constant over a product of whole-number columns.

        The criteria of one block share one denominator, so their total is computed as one exact
        ratio (three thirds of 70 make exactly 70); each criterion's own exact share is kept for
        the apportioning in phase 3.
        """
        ec, rel = self.ec, self.rel
        children = node.children
        common = math.lcm(*(c.share.denominator for c in children)) if children else 1
        shares = [int(c.share * common) for c in children]
        if any(c.present is not None for c in children):
            terms = [f"(CASE WHEN {c.present} THEN {w} ELSE 0 END)" if c.present is not None else str(w)
                     for c, w in zip(children, shares)]
            dynamic = self.col(f"{_key(node.path)}present_sum", V("(" + " + ".join(terms) + ")", "int",
                                                                 frozenset(_cols(" ".join(terms)))), keep=False).sql
            divisor: tuple[str, ...] = eff[1] + (dynamic,)
            per_share = eff[0]
        else:
            dynamic = None
            divisor = eff[1]
            per_share = eff[0] / common
        numerators: list[V] = []
        parts: list[V] = []
        for child, w in zip(children, shares):
            key = _key(child.path)
            child_eff = (per_share * w, divisor)
            present = child.present
            if dynamic is None and present is None:
                child.cols.weight_const = D.round_fraction(Fraction(w, common), 12, "half_up")
            else:
                if dynamic is None:
                    weight = ec.as_dec(ec.number(rel, D.round_fraction(Fraction(w, common), 12, "half_up")))
                else:
                    weight = ec.ratio(rel, V(f"CAST({w} AS HUGEINT)", "int", simple=True),
                                      V(f"CAST({dynamic} AS HUGEINT)", "int", frozenset(_cols(dynamic))), 12,
                                      "half_up")
                if present is not None:
                    weight = V(f"CASE WHEN {present} THEN {weight.sql} END", "dec",
                               weight.deps | frozenset(_cols(present)))
                child.cols.weight = self.col(f"{key}weight", weight).sql
            if not child_eff[1] and present is None:
                child.cols.budget_const = D.round_fraction(child_eff[0], 12, "half_up")
            else:
                budget = self._budget(child_eff, 12, "half_up")
                if present is not None:
                    budget = V(f"CASE WHEN {present} THEN {budget.sql} END", "dec",
                               budget.deps | frozenset(_cols(present)))
                child.cols.budget = self.col(f"{key}budget", budget).sql
            if isinstance(child.item, n.Group):
                child.exact = self._phase2(child, child_eff)
                parts.append(child.exact)
            else:
                credit_v = ec.lift(rel, child.credit)
                scaled = ec.lift(rel, ec.scaled(rel, credit_v), "x")
                if present is not None:
                    scaled = V(f"(CASE WHEN {present} THEN {scaled.sql} END)", "int",
                               scaled.deps | frozenset(_cols(present)))
                numerators.append(V(f"({scaled.sql} * CAST({rel.params.add(w)} AS HUGEINT))", "int", scaled.deps))
                child.exact = self.col(f"{key}exact", self._share_of(child_eff, scaled, 1), keep=False)
        if numerators:
            total = V("(" + " + ".join(f"coalesce({v.sql}, 0)" for v in numerators) + ")", "int", _deps(numerators))
            parts.insert(0, self._share_of((per_share, divisor), total, 1))
        for adj in node.adjustments:
            parts.append(adj.exact)
        zero = "CAST(0 AS DECIMAL(38,12))"
        total_sql = " + ".join(f"coalesce({p.sql}, {zero})" for p in parts) or zero
        raw = self.col(f"{_key(node.path)}sum", V(f"CAST({total_sql} AS DECIMAL(38,12))", "dec", _deps(parts)),
                       keep=False)
        bound = ec.lift(rel, self._budget(eff, 12, "half_up"), "b")
        kept = V(f"(CASE WHEN {raw.sql} < 0 THEN {zero} WHEN {raw.sql} > {bound.sql} "
                 f"THEN {bound.sql} ELSE {raw.sql} END)", "dec", raw.deps | bound.deps)
        if node.present is not None:
            kept = V(f"CASE WHEN {node.present} THEN {kept.sql} END", "dec", kept.deps | frozenset(_cols(node.present)))
        result = self.col(f"{_key(node.path)}result", kept, keep=False)
        node.raw = raw
        node.result = result
        return result

    def _share_of(self, eff: tuple[Fraction, tuple[str, ...]], scaled_credit: V, weight: int) -> V:
        """credit x budget / 100 exactly (12 places): scaled_credit is credit x 10^12 (times whole shares)."""
        ec, rel = self.ec, self.rel
        const, dyn = eff
        factor = const * weight / 100
        num = V(f"({scaled_credit.sql} * CAST({rel.params.add(factor.numerator)} AS HUGEINT))", "int",
                scaled_credit.deps)
        den_parts = [f"CAST({rel.params.add(factor.denominator * 10 ** 12)} AS HUGEINT)"] + \
                    [f"CAST({d} AS HUGEINT)" for d in dyn]
        den = V("(" + " * ".join(den_parts) + ")", "int", frozenset(c for d in dyn for c in _cols(d)))
        return ec.ratio(rel, num, den, 12, "half_up")

    def _budget(self, eff: tuple[Fraction, tuple[str, ...]], places: int, mode: str) -> V:
        """The effective budget rounded to `places`."""
        ec, rel = self.ec, self.rel
        const, dyn = eff
        if not dyn:
            return ec.as_dec(ec.number(rel, D.round_fraction(const, places, mode)))
        num = V(f"CAST({rel.params.add(const.numerator)} AS HUGEINT)", "int", simple=True)
        den = " * ".join([f"CAST({rel.params.add(const.denominator)} AS HUGEINT)"]
                         + [f"CAST({d} AS HUGEINT)" for d in dyn])
        return ec.ratio(rel, num, V(f"({den})", "int", frozenset(c for d in dyn for c in _cols(d))), places, mode)

    # ------------------------------------------------------------ phase 3: rounded points that add up
    def _phase3(self, node: _Node, shown: V) -> None:
        """Round the block's parts so they add up to `shown` (largest remainder, ties to the earlier item).

        Each part is first cut down to the rounding's places (its floor); the parts with the largest
        remainders then get one more unit each until the total is reached. A block kept at 0 or at
        its budget, or without a result, has its parts rounded one by one; a group that went
        missing shows none.
        """
        ec, rel = self.ec, self.rel
        parts = [c for c in node.children] + list(node.adjustments)
        if not parts:
            return
        places = ec.places
        unit = ec.param(rel, Fraction(1, 10 ** places), "dec") if places else ec.param(rel, 1, "int")
        floors, rests = [], []
        for c in parts:
            cut = ec.lift(rel, V(f"trunc({c.exact.sql}, {int(places)})", "dec", c.exact.deps, scale=places), "f")
            low, step = ec.common([cut, unit])
            below = f"CASE WHEN {c.exact.sql} < {cut.sql} THEN {low.sql} - {step.sql} ELSE {low.sql} END"
            floor = ec.lift(rel, V(f"({below})",
                                   "dec", c.exact.deps | cut.deps, scale=low.scale), "f")
            exact, lower = ec.common([c.exact, floor])
            floors.append(floor)
            rests.append(ec.lift(rel, V(f"({exact.sql} - {lower.sql})", "dec", exact.deps | lower.deps,
                                        scale=exact.scale), "r"))
        total = V("(" + " + ".join(f"coalesce({f.sql}, 0)" for f in floors) + ")", "dec", _deps(floors),
                  scale=floors[0].scale)
        target, counted = ec.common([shown, total])
        need = ec.lift(rel, V(f"({target.sql} - {counted.sql})", "dec", target.deps | counted.deps,
                              scale=target.scale), "k")
        kept, raw = node.result, node.raw
        one_by_one = f"({shown.sql} IS NULL OR {raw.sql} IS DISTINCT FROM {kept.sql})"
        for i, child in enumerate(parts):
            ahead = " + ".join(
                f"(CASE WHEN {rests[j].sql} > {rests[i].sql} OR ({rests[j].sql} = {rests[i].sql} AND {j} < {i}) "
                f"THEN 1 ELSE 0 END)" for j in range(len(parts)) if j != i) or "0"
            ahead_units = V(f"(CAST(({ahead}) AS BIGINT) * {unit.sql})", "dec", _deps(rests), scale=unit.scale) \
                if unit.kind == "dec" else V(f"({ahead})", "int", _deps(rests), scale=0)
            bar, have = ec.common([ahead_units, need])
            step_up, base = ec.common([unit, floors[i]])
            fair = V(f"({base.sql} + CASE WHEN {bar.sql} < {have.sql} THEN {step_up.sql} ELSE 0 END)", "dec",
                     _deps([floors[i], need, *rests]), scale=base.scale)
            alone = ec.round_to(rel, child.exact, places)
            value = V(f"CASE WHEN {child.exact.sql} IS NULL THEN NULL WHEN {one_by_one} THEN {alone.sql} "
                      f"ELSE {ec.as_dec(fair).sql} END", "dec",
                      child.exact.deps | shown.deps | raw.deps | kept.deps | alone.deps | fair.deps)
            if node.path and node.present is not None:
                # A group that went missing adds nothing, and neither do its bonuses and penalties.
                value = V(f"CASE WHEN {node.present} THEN {value.sql} END", "dec",
                          value.deps | frozenset(_cols(node.present)))
            shown_child = self.col(f"{_key(child.path)}contribution", value)
            child.cols.contribution = shown_child.sql
            if isinstance(child.item, n.Group):
                self._phase3(child, shown_child)

    # ------------------------------------------------------------ measures that fail
    def _measure_failures(self) -> None:
        """A measure declared `missing fail` that is missing makes the result an error."""
        seen: set[str] = set()
        roots = [i.expr for i in _items(self.score) if isinstance(i, (n.Criterion, n.Adjustment))]
        todo = list(roots)
        while todo:
            expr = todo.pop()
            for node in walk(expr):
                if not isinstance(node, n.Name):
                    continue
                ref = self.ec.a.refs.get(id(node))
                if ref is None or ref.sym.kind != "measure" or ref.related or ref.in_row or len(node.parts) != 1:
                    continue
                name = ref.sym.name
                if name in seen:
                    continue
                seen.add(name)
                measure = self.ec.p.measures.get(name)
                if measure is None or measure.entity != self.score.entity:
                    continue
                if measure.missing == "fail":
                    v = self.ec.read(self.s, self.score.entity, SELF, C.measure(name), node)
                    self.reasons.append((f"({v.sql} IS NULL)", f"measure `{name}` has no value (missing fail)"))
                todo.append(measure.expr)


def _items(block) -> list:
    out = []
    for item in block.items:
        if isinstance(item, n.Group):
            out.extend(_items(item))
        elif isinstance(item, (n.Criterion, n.Adjustment)):
            out.append(item)
    return out


def _key(path: str) -> str:
    return C.item_prefix(path)


def _cols(sql: str) -> list[str]:
    """The quoted column names an SQL fragment reads (fragments here only quote columns)."""
    out = []
    i = 0
    while True:
        start = sql.find('"', i)
        if start < 0:
            return out
        end = start + 1
        while True:
            end = sql.find('"', end)
            if end < 0:
                return out
            if sql.startswith('""', end):
                end += 2
                continue
            break
        out.append(sql[start + 1:end].replace('""', '"'))
        i = end + 1


def _scale_label(item: n.Criterion, body: n.Node | None) -> str | None:
    if isinstance(item.scale, str):
        return item.scale
    if body is not None:
        return scale_name(body)
    return None


def population(ec: ExprCompiler, s: Scope, score: n.Score, earlier: list[n.Score]) -> list[str]:
    """The columns `s:NAME:match` (the score's `where` holds, earlier scores aside: the manifest counts who
    matched several) and `s:NAME:on` (the score takes the entity: no earlier score's `where` held)."""
    tests: list[V] | None = []
    for other in earlier:
        if other.where is None:
            tests = None     # an earlier score without `where` takes everyone
            break
        tests.append(ec.expr(other.where, s))
    mine = ec.expr(score.where, s) if score.where is not None else V("TRUE", "bool", simple=True)
    match_v = V(f"coalesce({mine.sql}, FALSE)", "bool", _deps([mine]))
    match_col = s.rel.add(C.score(score.name, "match"), match_v.sql, match_v.deps, "bool", ())
    match = V(ident(match_col), "bool", frozenset({match_col}), simple=True)
    if tests is None:
        on = V("FALSE", "bool", simple=True)
    else:
        taken = " OR ".join(f"coalesce({t.sql}, FALSE)" for t in tests)
        sql = match.sql + (f" AND NOT ({taken})" if taken else "")
        on = V(f"({sql})", "bool", _deps([match, *tests]))
    return [match_col, s.rel.add(C.score(score.name, "on"), on.sql, on.deps, on.kind, on.levels)]
