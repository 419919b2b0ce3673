"""Reading the AST for the checker: sub-expressions, walks, score items, and spans of words in the source."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from kpidsl.semantic.resolve import Program
from kpidsl.source import Span
from kpidsl.syntax import nodes as n


def children(e: n.Node) -> Iterator[n.Node]:
    """The direct sub-expressions of an expression (a deduction's `per` and `unless` included)."""
    if isinstance(e, (n.Neg, n.Not)):
        yield e.operand
    elif isinstance(e, (n.Arith, n.BoolOp)):
        yield from e.operands
    elif isinstance(e, n.Compare):
        yield e.left
        yield e.right
    elif isinstance(e, n.InList):
        yield e.operand
        yield from e.items
    elif isinstance(e, n.IsMissing):
        yield e.operand
    elif isinstance(e, n.If):
        yield e.cond
        yield e.then
        yield e.otherwise
    elif isinstance(e, n.Call):
        yield from e.args
        if e.where is not None:
            yield e.where
        if e.deduction is not None:
            yield e.deduction.per
            if e.deduction.unless is not None:
                yield e.deduction.unless


def walk(e: n.Node) -> Iterator[n.Node]:
    """Every node of an expression, parents before children, without recursion."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(children(node))))


def text_of(e: n.Node, limit: int = 60) -> str:
    """The source text of a node, shortened for messages."""
    span = e.span
    text = " ".join(span.source.text[span.start:span.end].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def part_span(name: n.Name, index: int) -> Span:
    """The span of one part of a dotted name."""
    span = name.span
    text = span.source.text[span.start:span.end]
    pos = 0
    for i, part in enumerate(name.parts):
        found = text.find(part, pos)
        if found < 0:
            return span
        if i == index:
            return span.source.span(span.start + found, span.start + found + len(part))
        pos = found + len(part)
    return span


_MASK = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def word_span(span: Span, pattern: str, start: int = 0) -> Span:
    """The span of group 1 of `pattern` inside `span`, strings and comments ignored; else `span`."""
    text = span.source.text[span.start:span.end]
    masked = _MASK.sub(lambda m: " " * len(m.group(0)), text)
    found = re.compile(pattern).search(masked, start)
    if not found:
        return span
    return span.source.span(span.start + found.start(1), span.start + found.end(1))


def head_span(node: n.Node) -> Span:
    """A declaration's span up to its `{`: where its options are written."""
    span = node.span
    text = span.source.text[span.start:span.end]
    brace = text.find("{")
    return span.source.span(span.start, span.start + brace) if brace >= 0 else span


def name_span(node: n.Node, keyword: str, name: str) -> Span:
    """The span of the name written after `keyword` in a declaration such as `measure done ...`.

    Declarations and score items carry their name's span from the parser; other nodes (an
    override's level) are searched in the node's text.
    """
    own = getattr(node, "name_span", None)
    if own is not None and getattr(node, "name", None) == name:
        return own
    return word_span(node.span, rf"\b{keyword}\s+({re.escape(name)})\b")


def score_items(score: n.Score | n.Group) -> Iterator[n.Node]:
    """Every item of a score, groups before what they hold, without recursion."""
    stack = list(reversed(score.items))
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, n.Group):
            stack.extend(reversed(item.items))


def rating_uses(program: Program) -> dict[str, list[tuple[str, str, str]]]:
    """For each rating, the (entity, "score"|"rollup", name) of every score or rollup that uses it."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for score in program.scores.values():
        for item in score.items:
            if isinstance(item, n.UseRating):
                out.setdefault(item.name, []).append((score.entity, "score", score.name))
    for rollup in program.rollups.values():
        for rollup_item in rollup.items:
            if isinstance(rollup_item, n.UseRating):
                out.setdefault(rollup_item.name, []).append((rollup.entity, "rollup", rollup.name))
    return out


def scale_body(program: Program, criterion: n.Criterion) -> n.ScaleBody | None:
    if isinstance(criterion.scale, str):
        scale = program.scales.get(criterion.scale)
        return scale.body if scale is not None else None
    return criterion.scale


def rating_exprs(item: n.Node) -> Iterable[n.Node]:
    """The expressions of one rating item: level conditions, overrides, caps and a quota's `per`."""
    if isinstance(item, n.Level):
        if item.when is not None:
            yield item.when
    elif isinstance(item, n.Override):
        yield item.when
    elif isinstance(item, n.RatingCap):
        yield item.against
        if item.when is not None:
            yield item.when
    elif isinstance(item, n.Quota):
        yield item.per
