"""Compare two semantic models: the changes, each with its kind, classes, points and what it affects.

A change is `+` (only in NEW), `−` (only in OLD), `~` (fields differ) or `→`
(an item under a new parent). An item whose only difference is its effective
points, because a group or score above it changed, is *derived*: it is folded
under the change that caused it, so a group's new budget is shown once. A
removed and an added rule that mean the same get a "renamed?" hint on both,
and stay two changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from kpidsl.source import Span
from kpidsl.syntax import nodes as n
from kpidsl.versions.model import FIELD_CLASS, Entry, Model, threshold, without_threshold
from kpidsl.versions.points import exact, fixed, signed
from kpidsl.versions.scales import Function, Unscaled, differences, function_of

ADDED, REMOVED, CHANGED, MOVED = "+", "−", "~", "→"


@dataclass
class Detail:
    """One line under a change: a value range whose credit changed, the scores a threshold moves, ..."""

    text: str
    points: list[tuple[str, str, Fraction]] = field(default_factory=list)  # (item key, item as shown, Δ points)


@dataclass
class Affect:
    """A rule a changed measure or scale reaches, with the points it holds (None: not a point budget)."""

    key: str
    what: str
    points: Fraction | None = None
    shown: str = ""  # how a reader names the rule (an item's path in its score)


@dataclass
class Change:
    key: str
    kind: str
    action: str
    classes: tuple[str, ...]
    fields: dict[str, tuple[str | None, str | None]]
    old: Entry | None
    new: Entry | None
    details: list[Detail] = field(default_factory=list)
    affects: list[Affect] = field(default_factory=list)
    folded: list[Change] = field(default_factory=list)
    hint: str | None = None
    edit: str = ""
    bundle: str = ""

    @property
    def entry(self) -> Entry:
        return self.new if self.new is not None else self.old  # type: ignore[return-value]

    @property
    def cosmetic(self) -> bool:
        return self.classes == ("cosmetic",)

    @property
    def points(self) -> tuple[Fraction | None, Fraction | None] | None:
        """(old, new) effective points of an item or score; None for other rules."""
        if self.entry.kind not in ("item", "score"):
            return None
        return (self.old.points if self.old else None, self.new.points if self.new else None)

    @property
    def source(self) -> Span | None:
        """Where to look: the NEW side's rule, or the OLD side's for a removal."""
        return (self.new or self.old).span  # type: ignore[union-attr]


def compare(old: Model, new: Model) -> list[Change]:
    """Every change from `old` to `new`, derived point changes folded under their cause."""
    changes: dict[str, Change] = {}
    for key, entry in new.entries.items():
        before = old.entries.get(key)
        if before is None:
            changes[key] = Change(key, entry.kind, ADDED, _classes_of_whole(entry), {}, None, entry)
            continue
        names = before.changed_fields(entry)
        if not names:
            continue
        action = MOVED if "parent" in names else CHANGED
        shown = {k: (before.fields[k].text if k in before.fields else None,
                     entry.fields[k].text if k in entry.fields else None) for k in names}
        classes = tuple(c for c in _ordered({FIELD_CLASS.get((entry.kind, k), "cosmetic") for k in names}))
        changes[key] = Change(key, entry.kind, action, classes, shown, before, entry)
    for key, entry in old.entries.items():
        if key not in new.entries:
            changes[key] = Change(key, entry.kind, REMOVED, _classes_of_whole(entry), {}, entry, None)
    _rename_hints(changes)
    for change in changes.values():
        _explain(change, old, new)
    return _fold(changes)


def _ordered(classes: set[str]) -> list[str]:
    from kpidsl.versions.model import CLASSES

    return [c for c in CLASSES if c in classes]


def _classes_of_whole(entry: Entry) -> tuple[str, ...]:
    """The classes of adding or removing a whole rule."""
    return {
        "header": ("data",), "input": ("data",), "field": ("data",), "entities": ("population",),
        "measure": ("credit",), "scale": ("credit",), "score": ("population", "points"), "item": ("points", "credit"),
        "rating": ("rating",), "level": ("rating",), "override": ("rating",), "cap": ("rating",),
        "quota": ("rating",), "rollup": ("population",), "require": ("governance",), "test": ("governance",),
    }.get(entry.kind, ("cosmetic",))


# ---------------------------------------------------------------- renamed?

def _rename_hints(changes: dict[str, Change]) -> None:
    removed = [c for c in changes.values() if c.action == REMOVED]
    added = [c for c in changes.values() if c.action == ADDED]
    for gone in removed:
        for came in added:
            if came.hint is None and gone.hint is None and _same_but_name(gone.old, came.new):
                came.hint = f"renamed? it means what `{gone.old.name}` meant"
                gone.hint = f"renamed? `{came.new.name}` means what it meant"
                break


_IDENTITY_FIELDS = {"label", "locked", "points", "parent", "order"}


def _same_but_name(a: Entry | None, b: Entry | None) -> bool:
    if a is None or b is None or a.kind != b.kind or a.score != b.score or a.kind in ("header", "rating", "score"):
        return False
    if a.kind == "level":
        return threshold(a.node.when) is not None and threshold(a.node.when) == threshold(b.node.when)
    wanted = [k for k in a.fields if k not in _IDENTITY_FIELDS]
    return bool(wanted) and all(k in b.fields and a.fields[k].same(b.fields[k]) for k in wanted)


# ---------------------------------------------------------------- what a change means

def _explain(change: Change, old: Model, new: Model) -> None:
    kind = change.kind
    if kind == "scale":
        _scale_change(change, old, new)
    elif kind == "item":
        _item_change(change, old, new)
    elif kind == "measure":
        change.affects = affected(new if change.new else old, change.entry.name or "")
    elif kind == "level" and change.action == CHANGED and "condition" in change.fields:
        _threshold_change(change, old, new)


def _function(model: Model, entry: Entry) -> Function:
    """The scale function an item is scored by."""
    node = entry.node
    if not isinstance(node, n.Criterion):
        return Unscaled()
    if isinstance(node.scale, str):
        scale = model.program.scales.get(node.scale)
        return function_of(scale.body) if scale is not None else Unscaled()
    return function_of(node.scale)


def _users(model: Model, scale: str) -> list[Entry]:
    return [e for e in model.entries.values() if e.kind == "item" and isinstance(e.node, n.Criterion)
            and e.node.scale == scale]


def _credit_details(rows: list, items: list[Entry]) -> list[Detail]:
    """A line per changed value range, with the points it moves for each item scored by the scale."""
    out = []
    for words, at, before, after in rows:
        shown = f"{_credit(before)} → {_credit(after)}"
        line = f"{words}: credit {shown}" if at is None or words.startswith("at ") else \
            f"{words}, e.g. at {exact(at)}: credit {shown}"
        moved = []
        if before is not None and after is not None:
            for item in items:
                if item.points is not None:
                    moved.append((item.key, item.shown, (after - before) * item.points / 100))
        out.append(Detail(line, moved))
    return out


def _credit(value: Fraction | None) -> str:
    return "none" if value is None else exact(value)


def _scale_change(change: Change, old: Model, new: Model) -> None:
    users = _users(new if change.new else old, change.entry.name or "")
    change.affects = [Affect(u.key, "scored by it", u.points, u.shown) for u in users]
    if change.action == CHANGED and "function" in change.fields:
        rows = differences(change.old.fields["function"].key, change.new.fields["function"].key)
        change.details = _credit_details(rows, users)


def _item_change(change: Change, old: Model, new: Model) -> None:
    if change.action not in (CHANGED, MOVED) or "scale" not in change.fields:
        return
    rows = differences(_function(old, change.old), _function(new, change.new))
    change.details = _credit_details(rows, [change.new])


def _threshold_change(change: Change, old: Model, new: Model) -> None:
    """`good: score >= 70 → >= 75`: the scores that now get another level, when nothing else changed."""
    before, after = change.old.node.when, change.new.node.when
    t_old, t_new = threshold(before), threshold(after)
    if t_old is None or t_new is None or t_old == t_new or without_threshold(before) != without_threshold(after):
        return
    level = change.new.name
    rating = new.program.ratings.get(change.new.score or "")
    order = [i.name for i in rating.items if isinstance(i, n.Level)] if rating else []
    at = order.index(level) if level in order else len(order)
    below = order[at + 1] if at + 1 < len(order) else "the level below"
    # (N, inclusive) orders as the set of scores it admits: >= 70 admits more than > 70.
    raised = (t_new[0], not t_new[1]) > (t_old[0], not t_old[1])
    low, high = (t_old, t_new) if raised else (t_new, t_old)
    band = f"{'[' if low[1] else '('}{exact(low[0])}, {exact(high[0])}{')' if high[1] else ']'}"
    moved = f"from {level} to {below}" if raised else f"from {below} to {level}"
    change.details = [Detail(f"scores in {band} go {moved}")]


# ---------------------------------------------------------------- what a measure reaches

def affected(model: Model, measure: str) -> list[Affect]:
    """Every rule that reads `measure`, directly or through other measures, with the points at stake."""
    reached = {f"measure:{measure}"}
    todo = [f"measure:{measure}"]
    while todo:
        name = todo.pop()
        for e in model.entries.values():
            if e.kind == "measure" and e.provides not in reached and name in e.reads:
                reached.add(e.provides)
                todo.append(e.provides)
    out = []
    for e in model.entries.values():
        if not (e.reads & reached) or e.provides in reached:
            continue
        via = sorted(x.split(":", 1)[1] for x in e.reads & reached)
        through = "" if via == [measure] else f" (through {', '.join(via)})"
        what = {"item": "points", "level": "condition", "override": "condition", "cap": "condition",
                "score": "who it scores", "entities": "who leads", "rollup": "roll-up"}.get(e.kind, "reads it")
        out.append(Affect(e.key, what + through, e.points if e.kind == "item" else None, e.shown))
    for name in sorted(reached - {f"measure:{measure}"}):
        out.append(Affect(name.replace(":", " ", 1), "reads it", shown=name.replace(":", " ", 1)))
    return out


# ---------------------------------------------------------------- folding derived point changes

def _fold(changes: dict[str, Change]) -> list[Change]:
    out = []
    for change in changes.values():
        parent = _cause(change, changes) if _derived(change) else None
        if parent is not None:
            parent.folded.append(change)
        else:
            out.append(change)
    return out


def _derived(change: Change) -> bool:
    return change.kind == "item" and change.action == CHANGED and set(change.fields) == {"points"}


def _cause(change: Change, changes: dict[str, Change]) -> Change | None:
    """The nearest group or score above the item whose own change moved its budget."""
    entry = change.new
    score = entry.score
    for depth in range(len(entry.parent), 0, -1):
        found = changes.get(f"score {score} / {entry.parent[depth - 1]}")
        if found is not None and found.action != ADDED:
            return found
    return changes.get(f"score {score}")


def points_text(old: Fraction | None, new: Fraction | None, places: int = 2) -> str:
    """`23.33 → 28.00 points (+4.67)`; one side alone when the other has none."""
    if old is None and new is None:
        return ""
    if old is None:
        return f"{fixed(new, places)} points"
    if new is None:
        return f"{fixed(old, places)} points"
    if old == new:
        return f"{fixed(new, places)} points"
    return f"{fixed(old, places)} → {fixed(new, places)} points ({signed(new - old, places)})"


def exact_text(old: Fraction | None, new: Fraction | None) -> str | None:
    """The exact figures when one of them does not end: `70/3 → 28 (+14/3)`; None when all end."""
    from kpidsl.versions.points import terminates

    values = [v for v in (old, new) if v is not None]
    if all(terminates(v) for v in values) and (old is None or new is None or terminates(new - old)):
        return None
    if old is None or new is None or old == new:
        return exact(values[0])
    delta = new - old
    return f"{exact(old)} → {exact(new)} ({'+' if delta > 0 else '−'}{exact(abs(delta))})"
