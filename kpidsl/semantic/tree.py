"""Score trees for the structural passes: walking items with their budgets, head spans, exact numbers in words."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from kpidsl.decimals import decimal_text, exact_places
from kpidsl.semantic.resolve import Program
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

DEFAULT_TOTAL = Fraction(100)

Block = n.Score | n.Group


@dataclass(frozen=True)
class Placed:
    """An item of a score tree with what the budget rules need to know about where it sits."""

    node: n.Criterion | n.Group
    path: tuple[str, ...]           # score name, group names..., own name
    parent: Block
    parent_budget: Fraction | None  # None when the parent's own budget could not be worked out

    @property
    def weight(self) -> Fraction | None:
        """Share of the parent's budget: the weight itself, or points / parent budget."""
        share = self.node.share
        if share is None:
            return None
        if share.kind == "weight":
            return share.amount.value
        if self.parent_budget in (None, 0) or share.amount.unit == "percent":
            return None
        return share.amount.value / self.parent_budget

    @property
    def points(self) -> Fraction | None:
        """Points of the parent's budget this item holds."""
        return item_budget(self.node, self.parent_budget)


def score_total(score: n.Score) -> Fraction:
    return score.total.value if score.total is not None else DEFAULT_TOTAL


def item_budget(node: n.Criterion | n.Group, parent_budget: Fraction | None) -> Fraction | None:
    """An item's own budget: its points, or its weight times the parent's budget."""
    share = node.share
    if share is None or share.amount.unit == "percent" and share.kind == "points":
        return None
    if share.kind == "points":
        return share.amount.value
    return None if parent_budget is None else parent_budget * share.amount.value


def shared_items(block: Block) -> list[n.Criterion | n.Group]:
    """The children that take a share of the block's budget (bonuses and penalties take none)."""
    return [i for i in block.items if isinstance(i, (n.Criterion, n.Group))]


def walk(score: n.Score) -> Iterator[Placed]:
    """Every criterion and group of a score, parents before children."""
    todo: deque[tuple[Block, tuple[str, ...], Fraction | None]] = deque([(score, (score.name,), score_total(score))])
    while todo:
        block, path, budget = todo.popleft()
        for item in shared_items(block):
            placed = Placed(item, path + (item.name,), block, budget)
            yield placed
            if isinstance(item, n.Group):
                todo.append((item, placed.path, item_budget(item, budget)))


def find(program: Program, path: tuple[str, ...]) -> tuple[Placed | n.Score | None, int]:
    """The item a dotted path names, and how many leading parts of the path exist."""
    score = program.scores.get(path[0])
    if score is None:
        return None, 0
    if len(path) == 1:
        return score, 1
    best = 1
    for placed in walk(score):
        if placed.path == path:
            return placed, len(path)
        if path[:len(placed.path)] == placed.path:
            best = max(best, len(placed.path))
    return None, best


def child_names(program: Program, path: tuple[str, ...]) -> list[str]:
    """Names of the items directly below an existing path (for did-you-mean)."""
    if not path:
        return list(program.scores)
    found, _ = find(program, path)
    block = found if isinstance(found, n.Score) else getattr(found, "node", None)
    if not isinstance(block, (n.Score, n.Group)):
        return []
    return [i.name for i in shared_items(block)]


def head_span(node: n.Node) -> Span:
    """The first line of a node, up to its `{`: where a block or item is named."""
    span = node.span
    text = span.source.text
    end = min(span.end, len(text))
    newline = text.find("\n", span.start, end)
    if newline >= 0:
        end = newline
    in_string = False
    for i in range(span.start, end):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            in_string = not in_string
        elif ch in "{#" and not in_string:
            end = i
            break
    while end > span.start and text[end - 1] in " \t\r":
        end -= 1
    return span.source.span(span.start, end) if end > span.start else span


def where(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"


def kind_of(node: n.Node) -> str:
    """The keyword a user wrote for a node, for messages."""
    if isinstance(node, n.Adjustment):
        return node.kind
    return {n.Score: "score", n.Group: "group", n.Criterion: "criterion", n.Scale: "scale",
            n.Measure: "measure", n.Input: "input", n.Rating: "rating", n.Rollup: "rollup",
            n.ExtendBlock: "extend"}.get(type(node), "item")


def number(value: Fraction) -> str:
    """An exact number in words a reader expects: 0.5, 70, 1/3 (a fraction when no short decimal is exact)."""
    return decimal_text(value, max_places=6)


def percent(value: Fraction) -> str:
    """A fraction as a percentage: 9/10 -> 90%, 11/12 -> about 91.67%."""
    scaled = value * 100
    decimal = _decimal(scaled)
    if decimal is not None:
        return decimal + "%"
    rounded = round(scaled, 2)
    return f"about {_decimal(Fraction(rounded))}%"


def _decimal(value: Fraction, max_places: int = 6) -> str | None:
    """The exact decimal form, or None if it has no short exact one."""
    places = exact_places(value)
    return decimal_text(value) if places is not None and places <= max_places else None
