"""Changes grouped into edits (E1…En) and edits into bundles (B1…): what a reviewer names, what must go together.

An edit is one decision: the new shares of one block (their weights must still
add up), or any other single change. Edits are numbered in NEW's file order,
then the removals in OLD's order, so the same two versions always get the same
numbers. A bundle is the edits that cannot be applied one without another: an
edit that adds a rule goes with the edits whose new text reads it, and one that
removes a rule with the edits that stopped reading it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kpidsl.syntax import nodes as n
from kpidsl.versions.compare import ADDED, CHANGED, MOVED, REMOVED, Change
from kpidsl.versions.model import Model


@dataclass
class Edit:
    id: str
    title: str
    changes: list[Change]
    classes: tuple[str, ...]
    bundle: str = ""


@dataclass
class Bundle:
    id: str
    edits: list[str] = field(default_factory=list)


def number(changes: list[Change], old: Model, new: Model) -> tuple[list[Edit], list[Bundle]]:
    """Group, order and number the (shown) changes; sets each change's `edit` and `bundle`."""
    groups: dict[tuple, list[Change]] = {}
    for c in changes:
        groups.setdefault(_group_key(c), []).append(c)
    ordered = sorted(groups.values(), key=lambda cs: _position(cs, old, new))
    edits = []
    for i, cs in enumerate(ordered, start=1):
        classes: list[str] = []
        for c in cs:
            classes += [k for k in c.classes if k not in classes]
        edit = Edit(f"E{i}", _title(cs), cs, tuple(classes))
        for c in cs:
            c.edit = edit.id
            for f in _all_folded(c):
                f.edit = edit.id
        edits.append(edit)
    bundles = _bundles(edits)
    return edits, bundles


def _all_folded(c: Change) -> list[Change]:
    out = []
    for f in c.folded:
        out.append(f)
        out.extend(_all_folded(f))
    return out


def _group_key(c: Change) -> tuple:
    """Share changes of the items of one block form one edit; any other change is its own."""
    if c.kind == "item" and c.action == CHANGED and "share" in c.fields and c.new is not None:
        return ("shares", c.new.score, c.new.parent)
    return ("one", c.key)


def _position(cs: list[Change], old: Model, new: Model) -> tuple:
    """NEW's file order first (files as NEW reads them), then removals in OLD's order."""
    placed = [c for c in cs if c.new is not None and c.new.span is not None]
    if placed:
        return (0, *min(_where(c.new.span, new) for c in placed))
    return (1, *min(_where(c.old.span, old) for c in cs if c.old is not None and c.old.span is not None))


def _where(span, model: Model) -> tuple[int, int]:
    files = [f for f in model.program.files]
    index = files.index(span.file) if span.file in files else len(files)
    return (index, span.start)


def _title(cs: list[Change]) -> str:
    first = cs[0]
    entry = first.entry
    if len(cs) > 1 or first.kind == "item" and "share" in first.fields and first.action == CHANGED:
        block = entry.parent[-1] if entry.parent else entry.score
        return f"reweight {block}"
    if first.kind == "level" and first.details:
        return f"threshold {entry.score} / {entry.name}"
    if first.action == MOVED:
        return f"move {entry.name} to {'.'.join(entry.parent) or entry.score}"
    verb = {ADDED: "add", REMOVED: "remove", CHANGED: "change"}[first.action]
    return f"{verb} {entry.shown}"


def _blocks(c: Change) -> list[tuple]:
    """The blocks (score, group path) whose shares or budget a change alters."""
    if c.kind == "score" and "total" in c.fields:
        return [(c.entry.name, ())]  # the points of the score's groups must add up to its total
    if c.kind != "item":
        return []
    out = []
    for entry in (c.old, c.new):
        if entry is None or not isinstance(entry.node, (n.Criterion, n.Group)):
            continue
        if c.action in (ADDED, REMOVED, MOVED) or "share" in c.fields:
            out.append((entry.score, entry.parent))
    return out


class _Groups:
    """Union-find over edit ids; a group is named by its lowest edit number."""

    def __init__(self, ids: list[str]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            first, second = sorted((ra, rb), key=lambda s: int(s[1:]))
            self.parent[second] = first


def _bundles(edits: list[Edit]) -> list[Bundle]:
    """Union the edits that need each other (see the module docstring); numbered by their first edit."""
    groups = _Groups([e.id for e in edits])
    # The shares of one block must still add up: every edit that changes the set of shares of a block
    # (a share, an item added, removed, or moved in or out) goes with the others of that block.
    blocks: dict[tuple, list[str]] = {}
    provided: dict[str, list[str]] = {}  # a name added or removed -> the edits that did it
    for e in edits:
        for c in e.changes:
            for block in _blocks(c):
                blocks.setdefault(block, []).append(e.id)
            if c.action in (ADDED, REMOVED) and c.entry.provides:
                provided.setdefault(c.entry.provides, []).append(e.id)
    for ids in blocks.values():
        for other in ids[1:]:
            groups.union(ids[0], other)
    for e in edits:
        for c in e.changes:
            reads = (c.new.reads if c.new else frozenset()) | (c.old.reads if c.old else frozenset())
            for name in reads:
                for other in provided.get(name, ()):
                    groups.union(e.id, other)
    members: dict[str, list[str]] = {}
    for e in edits:
        members.setdefault(groups.find(e.id), []).append(e.id)
    bundles = [Bundle(f"B{i}", members[root])
               for i, root in enumerate(sorted(members, key=lambda s: int(s[1:])), start=1)]
    of = {edit: b.id for b in bundles for edit in b.edits}
    for e in edits:
        e.bundle = of[e.id]
        for c in e.changes:
            for x in (c, *_all_folded(c)):
                x.bundle = e.bundle
    return bundles
