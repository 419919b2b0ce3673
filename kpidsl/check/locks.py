"""Checker pass: an extending framework leaves `locked` items alone and keeps the `require` constraints it inherits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.resolve import Program, Replacement
from kpidsl.semantic.tree import (
    Placed,
    child_names,
    find,
    head_span,
    kind_of,
    number,
    percent,
    score_total,
    walk,
    where,
)
from kpidsl.source import Span
from kpidsl.syntax import nodes as n


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    for rep in program.replacements:
        found.extend(_locked_changes(program, rep))
    for require in _binding_requires(program):
        found.extend(_check_require(program, require))
    return found


# ---------------------------------------------------------------- locked items

def _locked_changes(program: Program, rep: Replacement) -> Iterator[Diagnostic]:
    if isinstance(rep.old, n.Score) and isinstance(rep.new, n.Score) and not rep.old_locked:
        # A whole score redefined: whatever was locked inside it must come through unchanged.
        yield from _locked_inside(program, rep.old, rep.new)
        return
    if not rep.old_locked or (rep.change == "redefine" and _same(rep.old, rep.new)):
        return
    lock = rep.locked_by or rep.old
    old, new = rep.old, rep.new
    what = f"{kind_of(old)} `{getattr(old, 'name', '')}`"
    if rep.change == "redefine":
        message, span = f"{what} is locked and cannot be changed here", head_span(new)
    elif rep.change == "add":
        message, span = f"{kind_of(new)} `{new.name}` cannot be added to locked {what}", head_span(new)
    elif rep.change == "drop":
        message, span = f"`replace` would drop the items of locked {what}", head_span(new)
    elif rep.change == "share":
        message, span = f"the share of locked {what} cannot be changed here", rep.at
    elif rep.change == "total":
        message, span = f"the total of locked {what} cannot be changed here", rep.at
    else:
        message, span = f"the missing-value policy of locked {what} cannot be changed here", head_span(new)
    if lock is not old and rep.change == "redefine":
        message = f"{what} is inside locked {kind_of(lock)} `{lock.name}` and cannot be changed here"
    yield _locked(program, message, span, lock)


def _locked(program: Program, message: str, span: Span, lock: n.Node) -> Diagnostic:
    owner = _framework_of(program, lock.span)
    return Diagnostic(
        "KPI080", message, span,
        notes=(f"`{lock.name}` is locked at {where(head_span(lock))}",),
        help=f"ask the owners of {owner} to change it there, or remove this change")


def _framework_of(program: Program, span: Span) -> str:
    for fid, fw in program.frameworks.items():
        if fw.span.file == span.file:
            return f"the framework `{fid}`"
    return "the framework that locked it"


def _same(old: n.Node, new: n.Node) -> bool:
    """Restating a locked item exactly (with or without the word `locked`) changes nothing."""
    if hasattr(new, "locked") and hasattr(old, "locked"):
        new = dataclasses.replace(new, locked=old.locked)
    return old == new


def _locked_inside(program: Program, old: n.Score | n.Group, new: n.Score | n.Group) -> Iterator[Diagnostic]:
    by_name = {getattr(i, "name", None): i for i in new.items}
    for item in old.items:
        if isinstance(item, n.UseRating):
            continue
        now = by_name.get(item.name)
        if item.locked:
            if now is None:
                yield _locked(program, f"{kind_of(new)} `{new.name}` leaves out locked {kind_of(item)} `{item.name}`",
                              head_span(new), item)
            elif not _same(item, now):
                yield _locked(program, f"{kind_of(item)} `{item.name}` is locked and cannot be changed here",
                              head_span(now), item)
        elif isinstance(item, n.Group) and isinstance(now, n.Group):
            yield from _locked_inside(program, item, now)
        elif isinstance(item, n.Group) and now is None:
            yield from _dropped_locks(program, item, new)


def _dropped_locks(program: Program, old: n.Group, new: n.Score | n.Group) -> Iterator[Diagnostic]:
    for item in old.items:
        if getattr(item, "locked", False):
            yield _locked(program, f"{kind_of(new)} `{new.name}` leaves out locked {kind_of(item)} `{item.name}`",
                          head_span(new), item)
        elif isinstance(item, n.Group):
            yield from _dropped_locks(program, item, new)


# ---------------------------------------------------------------- constraints

def _binding_requires(program: Program) -> list[n.Require]:
    """The root's own constraints and those of every framework it extends."""
    files = {program.root_file} | {program.frameworks[f].span.file for f in program.extended
                                   if f in program.frameworks}
    return [r for r in program.requires if r.span.file in files]


def _note(require: n.Require) -> str:
    line = require.span.source.line_text(require.span.line).strip()
    return f"required at {where(require.span)}: {line}"


def _fix_elsewhere(program: Program, require: n.Require) -> str:
    if require.span.file == program.root_file:
        return "or change the constraint"
    return f"or ask the owners of {_framework_of(program, require.span)} to change the constraint"


def _check_require(program: Program, require: n.Require) -> Iterator[Diagnostic]:
    constraint = require.constraint
    target = constraint.target if isinstance(constraint, n.ShareBetween) else constraint.within
    found = None
    if target is not None:
        found, depth = find(program, target.parts)
        if found is None:
            yield _no_such_path(program, require, target, depth)
            return
    if isinstance(constraint, n.ShareBetween):
        yield from _check_share(program, require, constraint, found)
    else:
        yield from _check_scaled(program, require, constraint, found)


def _no_such_path(program: Program, require: n.Require, target: n.Name, depth: int) -> Diagnostic:
    missing = target.parts[depth]
    within = ".".join(target.parts[:depth])
    where_missing = f"in `{within}`" if within else "among the scores"
    span, notes = _require_site(program, require)
    return Diagnostic(
        "KPI081", f"the constraint names `{target.dotted}`, but there is no `{missing}` {where_missing}", span,
        notes=notes,
        help=did_you_mean(missing, child_names(program, target.parts[:depth]))
        or f"declare `{target.dotted}`, {_fix_elsewhere(program, require)}")


def _require_site(program: Program, require: n.Require) -> tuple[Span, tuple[str, ...]]:
    """The require itself when the checked file wrote it; else where the checked file takes it on."""
    if require.span.file == program.root_file:
        return require.span, ()
    for decl in program.root.decls:
        if isinstance(decl, n.Extends):
            return decl.span, (_note(require),)
    return head_span(program.root), (_note(require),)


def _check_share(program: Program, require: n.Require, constraint: n.ShareBetween,
                 found: Placed | n.Score | None) -> Iterator[Diagnostic]:
    low, high = constraint.low.value, constraint.high.value
    if isinstance(found, n.Score):
        if constraint.kind == "weight":
            span, notes = _require_site(program, require)
            yield Diagnostic("KPI081", f"`{found.name}` is a score, which has no weight", span, notes=notes,
                             help="name a group or criterion inside the score, e.g. `weight of "
                                  f"{found.name}.GROUP between 50% and 70%`")
            return
        value, words, span = score_total(found), f"a total of {number(score_total(found))} points", \
            head_span(found) if found.total is None else found.total.span
        what = f"score `{found.name}`"
    else:
        node = found.node
        what = f"{kind_of(node)} `{node.name}`"
        if node.share is None:
            return  # the weights pass reports the missing share
        span = _share_site(program, found)
        if constraint.kind == "weight":
            value = found.weight
            if value is None:
                return
            words = f"weighs {percent(value)}"
            if node.share.kind == "points":
                words += f" ({number(node.share.amount.value)} of {number(found.parent_budget)} points)"
        else:
            value = found.points
            if value is None:
                return
            words = f"has {number(value)} points"
            if node.share.kind == "weight":
                words += f" ({percent(node.share.amount.value)} of {number(found.parent_budget)})"
    if low <= value <= high:
        return
    shown = percent if constraint.kind == "weight" else number
    required = f"between {shown(low)} and {shown(high)}"
    if isinstance(found, n.Score):
        yield Diagnostic("KPI081", f"{what} has {words}; it must have {required} points", span,
                         notes=(_note(require),),
                         help=f"set its `total` {required}, {_fix_elsewhere(program, require)}")
        return
    goal = f"weighs {required}" if constraint.kind == "weight" else f"has {required} points"
    must = f"weigh {required}" if constraint.kind == "weight" else f"have {required} points"
    yield Diagnostic("KPI081", f"{what} {words}; it must {must}", span, notes=(_note(require),),
                     help=f"change its {node.share.kind} so it {goal}, {_fix_elsewhere(program, require)}")


def _share_site(program: Program, placed: Placed) -> Span:
    """Where the item's share was written; if another file wrote it, the checked file's change of its parent."""
    span = placed.node.share.span
    if span.file == program.root_file:
        return span
    for decl in program.root.decls:
        if isinstance(decl, n.ExtendBlock) and decl.target.parts == placed.path[:-1] and decl.total is not None:
            return decl.total.span
    return span


def _check_scaled(program: Program, require: n.Require, constraint: n.EveryScaled,
                  found: Placed | n.Score | None) -> Iterator[Diagnostic]:
    within = f" in `{constraint.within.dotted}`" if constraint.within is not None else ""
    for criterion in _criteria(program, found):
        if criterion.scale is None:
            yield Diagnostic(
                "KPI081", f"criterion `{criterion.name}` has no scale, but every criterion{within} must have one",
                head_span(criterion), notes=(_note(require),),
                help="score it with a scale, e.g. `scored percent`, "
                     f"{_fix_elsewhere(program, require)}")


def _criteria(program: Program, found: Placed | n.Score | None) -> Iterator[n.Criterion]:
    if isinstance(found, Placed):
        if isinstance(found.node, n.Criterion):
            yield found.node
            return
        scores = [(found.node, found.path)]
    elif isinstance(found, n.Score):
        scores = [(found, (found.name,))]
    else:
        scores = [(s, (s.name,)) for s in program.scores.values()]
    for _block, path in scores:
        score = program.scores[path[0]]
        for placed in walk(score):
            if placed.path[:len(path)] == path and isinstance(placed.node, n.Criterion):
                yield placed.node
