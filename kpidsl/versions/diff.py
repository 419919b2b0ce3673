"""`kpidsl diff OLD NEW`: read both sides, pair their frameworks by id, and list the changes of each pair."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field

from kpidsl.diagnostics import Diagnostic, sorted_diagnostics
from kpidsl.versions.compare import Change, compare
from kpidsl.versions.edits import Bundle, Edit, number
from kpidsl.versions.model import CLASSES, Model, build
from kpidsl.versions.sides import Framed, Side, SideError, open_side

INCLUDES = ("labels", "tests")


@dataclass
class FrameworkDiff:
    """One framework on both sides (or on one: added or removed) and what changed in it."""

    id: str
    old: Framed | None
    new: Framed | None
    old_model: Model | None = None
    new_model: Model | None = None
    changes: list[Change] = field(default_factory=list)
    hidden: int = 0                     # cosmetic changes not shown (labels, titles)
    edits: list[Edit] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)
    inherited: dict[str, str] = field(default_factory=dict)  # change key -> the framework id it comes from

    @property
    def status(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed" if self.changes else "same"


@dataclass
class DiffResult:
    old: Side
    new: Side
    frameworks: list[FrameworkDiff]
    diagnostics: list[Diagnostic]       # `check` on the NEW side
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(f.status != "same" for f in self.frameworks)

    @property
    def new_has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def close(self) -> None:
        self.old.close()
        self.new.close()


def diff(old_spec: str, new_spec: str, include: Collection[str] = (), only: Collection[str] = ()) -> DiffResult:
    """Compare two versions; SideError when a side cannot be read or does not resolve."""
    old = open_side(old_spec, check=False)
    try:
        new = open_side(new_spec, check=True)
    except BaseException:
        old.close()
        raise
    try:
        for side, name in ((old, "OLD"), (new, "NEW")):
            if side.problems:
                raise UnresolvedSide(name, side)
        return _pair(old, new, set(include), set(only))
    except BaseException:
        old.close()
        new.close()
        raise


class UnresolvedSide(SideError):
    """A side whose frameworks cannot be read or put together; its diagnostics say why."""

    def __init__(self, name: str, side: Side) -> None:
        count = len(side.problems)
        super().__init__(f"{name} ({side.spec}) does not resolve: {count} problem{'' if count == 1 else 's'} "
                         "reading it (listed above)")
        self.side = side
        self.diagnostics = sorted_diagnostics(side.problems)


def _pair(old: Side, new: Side, include: set[str], only: set[str]) -> DiffResult:
    warnings = [f"{side.spec}: framework id `{fid}` is declared by more than one root file; the first is compared"
                for side in (old, new) for fid in side.duplicates]
    if len(old.frameworks) == 1 and len(new.frameworks) == 1:
        (a_id, a), (b_id, b) = next(iter(old.frameworks.items())), next(iter(new.frameworks.items()))
        if a_id != b_id:
            warnings.append(f"the sides are different frameworks: `{a_id}` and `{b_id}`")
        pairs = [(b_id, a, b)]
    else:
        ids = [*new.frameworks, *(i for i in old.frameworks if i not in new.frameworks)]
        pairs = [(i, old.frameworks.get(i), new.frameworks.get(i)) for i in ids]
    diffs = []
    for fid, a, b in sorted(pairs, key=lambda p: p[0]):
        d = FrameworkDiff(fid, a, b)
        if a is not None and b is not None:
            _compare(d, include, only)
        diffs.append(d)
    _mark_inherited(diffs)
    diagnostics = sorted_diagnostics(x for f in new.frameworks.values() for x in f.diagnostics)
    return DiffResult(old, new, diffs, diagnostics, warnings)


def _compare(d: FrameworkDiff, include: set[str], only: set[str]) -> None:
    tests = "tests" in include
    d.old_model = build(d.old.program, include_tests=tests)
    d.new_model = build(d.new.program, include_tests=tests)
    changes = compare(d.old_model, d.new_model)
    if "labels" not in include:
        kept = []
        for c in changes:
            if c.cosmetic:
                d.hidden += 1
                continue
            _drop_cosmetic_fields(c)
            kept.append(c)
        changes = kept
    if only:
        changes = [c for c in changes if set(c.classes) & only]
    d.changes = changes
    d.edits, d.bundles = number(changes, d.old_model, d.new_model)


def _drop_cosmetic_fields(change: Change) -> None:
    for name in ("label", "title"):
        change.fields.pop(name, None)
    change.classes = tuple(k for k in change.classes if k != "cosmetic") or change.classes
    for f in change.folded:
        _drop_cosmetic_fields(f)


def _mark_inherited(diffs: list[FrameworkDiff]) -> None:
    """A change written in another framework's root file, when that framework is diffed too, is inherited."""
    roots = {}
    for d in diffs:
        for framed in (d.old, d.new):
            if framed is not None and d.status == "changed":
                roots[os.path.normpath(os.path.abspath(framed.root))] = d.id
    for d in diffs:
        for c in d.changes:
            span = c.source
            if span is None:
                continue
            origin = roots.get(os.path.normpath(os.path.abspath(span.file)))
            if origin is not None and origin != d.id:
                d.inherited[c.key] = origin


def classes_option(value: str) -> set[str]:
    """`--only points,rating`: ValueError naming an unknown class."""
    chosen = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(chosen - set(CLASSES))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a change class; choose from {', '.join(CLASSES)}")
    return chosen


def includes_option(value: str) -> set[str]:
    chosen = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(chosen - set(INCLUDES))
    if unknown:
        raise ValueError(f"{unknown[0]!r} cannot be included; choose from {', '.join(INCLUDES)}")
    return chosen
