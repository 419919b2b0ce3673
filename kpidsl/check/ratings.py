"""Checker pass: rating blocks — one last `otherwise`, thresholds going down, quotas naming known levels,
and levels of two ratings meeting (a cap, an `if`, a comparison) only when the ratings list the same levels.

Duplicate level names and unknown levels in `override` are the names pass's findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from fractions import Fraction

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.tree import head_span, number, where
from kpidsl.semantic.types import Analysis, Type, fits, one_order
from kpidsl.semantic.walk import text_of, walk
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

# `quota excellent at most 20% of all per unit`: the share is taken of everyone the rating rates.
QUOTA_OF_EVERYONE = "all"


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    for rating in program.ratings.values():
        _check_rating(rating, found)
    found.extend(_mixed_levels(program, scope_of(ctx)))
    return found


def _check_rating(rating: n.Rating, found: list[Diagnostic]) -> None:
    levels = [i for i in rating.items if isinstance(i, n.Level)]
    names = list(dict.fromkeys(level.name for level in levels))
    _check_fallback(rating, levels, found)
    _check_thresholds(levels, found)
    for quota in (i for i in rating.items if isinstance(i, n.Quota)):
        if quota.level not in names:
            found.append(_unknown_quota_level(quota.level, rating, names,
                                              _word(quota.span, r"^quota\s+(\w+)")))
        if quota.of not in names and quota.of != QUOTA_OF_EVERYONE:
            found.append(_unknown_quota_level(quota.of, rating, names,
                                              _word(quota.span, r"\bof\s+(\w+)\s+per\b"), of=True))


def _check_fallback(rating: n.Rating, levels: list[n.Level], found: list[Diagnostic]) -> None:
    fallbacks = [lv for lv in levels if lv.when is None]
    if not fallbacks:
        found.append(Diagnostic(
            "KPI062", f"rating `{rating.name}` has no `otherwise` level", head_span(rating),
            help="end the levels with one that everybody else gets, e.g. "
                 "`not_completed \"Không hoàn thành nhiệm vụ\" otherwise`"))
        return
    first = fallbacks[0]
    for extra in fallbacks[1:]:
        found.append(Diagnostic(
            "KPI062", f"rating `{rating.name}` has a second `otherwise` level, `{extra.name}`", extra.span,
            notes=(f"the first is `{first.name}` at {where(first.span)}",),
            help="keep one `otherwise` level, the last one"))
    for level in levels[levels.index(first) + 1:]:
        if level.when is not None:
            found.append(Diagnostic(
                "KPI060", f"level `{level.name}` comes after the `otherwise` level `{first.name}` and is never given",
                level.span, help="`otherwise` takes everybody left, so it must be the last level"))


def _check_thresholds(levels: list[n.Level], found: list[Diagnostic]) -> None:
    """Levels are tried best first, so a level's score threshold may not exceed the one above it."""
    above: tuple[n.Level, Fraction, n.Compare] | None = None
    for level in levels:
        if level.when is None:
            break
        conjuncts = [c for c in _conjuncts(level.when) if _threshold(c) is not None]
        if not conjuncts:
            continue
        compare = max(conjuncts, key=lambda c: _threshold(c))
        value = _threshold(compare)
        if above is not None and value > above[1]:
            prev, prev_value, prev_compare = above
            found.append(Diagnostic(
                "KPI060", f"level `{level.name}` needs score {_op(compare)} {number(value)}, more than "
                          f"`{prev.name}` above it (score {_op(prev_compare)} {number(prev_value)})",
                compare.span,
                help="levels are tried from the top and the first that matches wins; "
                     "list them from the highest score threshold to the lowest"))
        above = (level, value, compare)


def _conjuncts(expr: n.Expr) -> Iterator[n.Expr]:
    if isinstance(expr, n.BoolOp) and expr.op == "and":
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _is_score(expr: n.Expr) -> bool:
    return isinstance(expr, n.Name) and expr.parts == ("score",)


def _threshold(expr: n.Expr) -> Fraction | None:
    """N of a `score >= N` / `score > N` condition (or `N <= score`), else None."""
    if not isinstance(expr, n.Compare):
        return None
    if _is_score(expr.left) and expr.op in (">=", ">") and isinstance(expr.right, n.Num):
        return expr.right.value
    if _is_score(expr.right) and expr.op in ("<=", "<") and isinstance(expr.left, n.Num):
        return expr.left.value
    return None


def _op(compare: n.Compare) -> str:
    return compare.op if _is_score(compare.left) else {"<=": ">=", "<": ">"}[compare.op]


def _unknown_quota_level(name: str, rating: n.Rating, names: list[str], span: Span, of: bool = False) -> Diagnostic:
    place = " as the level it counts" if of else ""
    help = did_you_mean(name, names)
    if help is None:
        help = "the levels are " + ", ".join(f"`{x}`" for x in names) if names else "declare the levels first"
        if of:
            help += f"; `of {QUOTA_OF_EVERYONE}` counts everybody rated"
    return Diagnostic("KPI061", f"quota names `{name}`{place}, which is not a level of rating `{rating.name}`",
                      span, help=help)


def _word(span: Span, pattern: str) -> Span:
    """The span of the name `pattern` captures in a rating line (no strings can stand in the way there)."""
    found = re.search(pattern, span.source.text[span.start:span.end])
    if found is None:
        return span
    return span.source.span(span.start + found.start(1), span.start + found.end(1))


# ---------------------------------------------------------------- levels of different ratings
# Levels are ordered by their place in their rating's list. Two ratings' levels can be compared,
# capped against each other or chosen between by an `if` only when one rating's levels all appear in
# the other's list in the same order (the same list, or a shorter one such as good, completed within
# excellent, good, completed, not_completed): then the longer list orders both. Otherwise a level
# of one has no place, or another place, in the other's list.

def _levels_of(rating: n.Rating) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.name for i in rating.items if isinstance(i, n.Level)))


def _ratings_of(program: Program, t: Type) -> list[n.Rating]:
    """The ratings whose levels a level type holds (several when role variants are rated apart)."""
    names = t.owner.split(", ") if t.kind == "level" and t.owner else []
    return [program.ratings[name] for name in names if name in program.ratings]


def _described(*ratings: n.Rating) -> str:
    """`rating `r` (a, b, c)`, or several of them joined with `and`."""
    parts = [f"`{r.name}` ({', '.join(_levels_of(r)) or 'no levels'})" for r in ratings]
    return ("rating " if len(parts) == 1 else "ratings ") + " and ".join(parts)


def _mixed_levels(program: Program, a: Analysis) -> Iterator[Diagnostic]:
    for rating in program.ratings.values():
        mine = _levels_of(rating)
        for cap in (i for i in rating.items if isinstance(i, n.RatingCap)):
            for other in _ratings_of(program, a.type_of(cap.against).scalar()):
                if not fits(_levels_of(other), mine):
                    yield Diagnostic(
                        "KPI064", f"rating `{rating.name}` is capped by `{text_of(cap.against)}`, a level of "
                                  f"{_described(other)}, whose levels are not levels of {_described(rating)} "
                                  "in the same order", cap.against.span,
                        help=f"a cap keeps the worse of two levels by their place in `{rating.name}`'s list, so "
                             f"every level of `{other.name}` must be a level of `{rating.name}`, in the same order: "
                             f"rename the levels of `{other.name}`, or cap against a rating that has them")
                    break
    seen: set[int] = set()
    for site in a.sites:
        for node in walk(site.expr):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, n.If):
                yield from _pair(program, a, (node.then, node.otherwise), node, False,
                                 "the two branches of `if` are levels of ratings whose levels do not fit one order",
                                 "an `if` gives one value, ordered by one list of levels; choose between ratings "
                                 "whose levels all appear, in the same order, in the longer list")
            elif isinstance(node, n.InList):
                yield from _pair(program, a, (node.operand, *node.items), node, False,
                                 f"`{text_of(node)}` matches levels of ratings whose levels do not fit one order",
                                 "a level is matched within one rating's list of levels; list levels of the "
                                 "rating being tested, e.g. `unit.rating in [good, excellent]`")
            elif isinstance(node, n.Compare):
                yield from _pair(program, a, (node.left, node.right), node, node.op not in ("=", "!="),
                                 f"`{text_of(node)}` compares levels of ratings whose levels do not fit one order",
                                 "levels are compared by their place in their rating's list; compare each "
                                 "rating with one of its own levels, e.g. `unit.rating >= good`")


def _pair(program: Program, a: Analysis, pair: tuple[n.Node, ...], at: n.Node, ordered: bool, message: str,
          help: str) -> Iterator[Diagnostic]:
    """Every side's ratings must fit one order; an ordered comparison needs that of one side's ratings too."""
    sides = []
    for side in pair:
        ref = a.refs.get(id(side)) if isinstance(side, n.Name) else None
        if ref is not None and ref.sym.kind == "level":
            continue  # a level written by name takes the other side's list
        ratings = _ratings_of(program, a.type_of(side).scalar())
        if ratings:
            sides.append((side, ratings))
    if len(sides) < (1 if ordered else 2):
        return
    if one_order([_levels_of(r) for _, ratings in sides for r in ratings]) is not None:
        return
    yield Diagnostic("KPI064", message, at.span,
                     notes=tuple(f"`{text_of(node)}` is a level of {_described(*ratings)}" for node, ratings in sides),
                     help=help)
