"""Checker pass: weights and points of every score block add up exactly to the block's budget."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.tree import (
    Block,
    head_span,
    item_budget,
    kind_of,
    number,
    percent,
    score_total,
    shared_items,
    where,
)
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

ONE = Fraction(1)


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    for score in program.scores.values():
        if score.total is not None and score.total.value <= 0:
            found.append(Diagnostic("KPI042", f"score `{score.name}` has total {number(score.total.value)}; "
                                    "a total must be above zero", score.total.span,
                                    help="leave `total` out for the usual 100 points"))
            continue
        _check_block(program, score, (score.name,), score_total(score), None, found)
    return found


def _check_block(program: Program, block: Block, path: tuple[str, ...], budget: Fraction | None,
                 parent_budget: Fraction | None, found: list[Diagnostic]) -> None:
    items = shared_items(block)
    what = f"{kind_of(block)} `{block.name}`"
    if not items:
        span, notes = block_site(program, path, block)
        found.append(Diagnostic("KPI042", f"{what} has no criteria or groups", span, notes=notes,
                                help="add criteria to it, or remove it"))
        return
    sums_make_sense = True
    for item in items:
        share = item.share
        if share is None:
            sums_make_sense = False
            found.append(Diagnostic(
                "KPI042", f"{kind_of(item)} `{item.name}` has neither a weight nor points", head_span(item),
                help="give it its share of the block, e.g. `weight 25%` or `points 10`"))
        elif share.amount.value <= 0:
            shown = percent(share.amount.value) if share.kind == "weight" else number(share.amount.value)
            found.append(Diagnostic(
                "KPI042", f"{kind_of(item)} `{item.name}` has {share.kind} {shown}; a share must be above zero",
                share.span, help="remove the item if it should not count"))
        elif share.kind == "points" and share.amount.unit == "percent":
            # `points 30%` is a type error reported by the types pass; no sum is meaningful then.
            sums_make_sense = False
    shares = [i.share for i in items if i.share is not None]
    weights = [s for s in shares if s.kind == "weight"]
    points = [s for s in shares if s.kind == "points"]
    if weights and points:
        sums_make_sense = False
        _report_mixed(block, items, weights, points, found)
    if sums_make_sense and weights:
        _check_weights(program, block, path, weights, found)
    elif sums_make_sense and points and budget is not None:
        _check_points(program, block, path, points, budget, parent_budget, found)
    for item in items:
        if isinstance(item, n.Group):
            _check_block(program, item, path + (item.name,), item_budget(item, budget), budget, found)


def _report_mixed(block: Block, items: list, weights: list[n.Share], points: list[n.Share],
                  found: list[Diagnostic]) -> None:
    # The kind most siblings use is taken as the block's intent; the others are the odd ones out.
    first = items[0].share.kind if items[0].share is not None else "weight"
    majority = "weight" if len(weights) > len(points) or (len(weights) == len(points) and first == "weight") \
        else "points"
    what = f"{kind_of(block)} `{block.name}`"
    for item in items:
        share = item.share
        if share is None or share.kind == majority:
            continue
        if share.kind == "weight":
            message = (f"a percent weight inside a points-budget {kind_of(block)}: {kind_of(item)} `{item.name}` "
                       f"has weight {percent(share.amount.value)} but the other items of {what} have points")
        else:
            message = (f"points inside a weighted {kind_of(block)}: {kind_of(item)} `{item.name}` has "
                       f"{number(share.amount.value)} points but the other items of {what} have weights")
        found.append(Diagnostic(
            "KPI031", message, share.span,
            help="give every item of one block the same kind of share: all weights (summing to 100%) "
                 "or all points (summing to the block's budget)"))


def _check_weights(program: Program, block: Block, path: tuple[str, ...], weights: list[n.Share],
                   found: list[Diagnostic]) -> None:
    total = sum((s.amount.value for s in weights), Fraction(0))
    if total == ONE:
        return
    span, notes = block_site(program, path, block)
    if any(s.amount.value > ONE for s in weights):
        help = "a weight is a share of its block: write `weight 50%` or `weight 1/2`, not `weight 50`"
    else:
        gap = percent(abs(ONE - total))
        help = f"the weights are {gap} {'short of' if total < ONE else 'over'} 100%; make them add up to exactly 100%"
        if abs(ONE - total) < Fraction(1, 1000):
            help += " (33.33% three times is 99.99%: write `weight 1/3` for an exact third)"
    found.append(Diagnostic("KPI040", f"weights of {kind_of(block)} `{block.name}` sum to {percent(total)}, not 100%",
                            span, notes=notes, help=help))


def _check_points(program: Program, block: Block, path: tuple[str, ...], points: list[n.Share], budget: Fraction,
                  parent_budget: Fraction | None, found: list[Diagnostic]) -> None:
    total = sum((s.amount.value for s in points), Fraction(0))
    if total == budget:
        return
    span, notes = block_site(program, path, block)
    diff = number(abs(budget - total))
    found.append(Diagnostic(
        "KPI041", f"points of {kind_of(block)} `{block.name}` sum to {number(total)}, not {number(budget)}", span,
        notes=notes,
        help=f"{_budget_source(block, budget, parent_budget)}; the points are {diff} "
             f"{'short' if total < budget else 'over'}"))


def _budget_source(block: Block, budget: Fraction, parent_budget: Fraction | None) -> str:
    """Where a block's budget comes from, in words."""
    if isinstance(block, n.Score):
        if block.total is None:
            return "a score's budget is 100 points unless it sets `total`"
        return f"the score's `total` is {number(budget)}"
    share = block.share
    if share is not None and share.kind == "weight" and parent_budget is not None:
        return (f"the group's budget is {number(budget)} points: its weight {percent(share.amount.value)} "
                f"of its parent's {number(parent_budget)}")
    return f"the group's budget is its {number(budget)} points"


def block_site(program: Program, path: tuple[str, ...], block: Block) -> tuple[Span, tuple[str, ...]]:
    """Where to report a finding about a whole block: in the file being checked when it changed the block."""
    span = head_span(block)
    if span.file == program.root_file:
        return span, ()
    extension = None
    for decl in program.root.decls:
        if isinstance(decl, n.ExtendBlock) and decl.target.parts == path:
            extension = decl
    if extension is None:
        return span, ()
    return head_span(extension), (f"{kind_of(block)} `{block.name}` is declared at {where(span)}",)
