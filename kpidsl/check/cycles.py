"""Checker pass: cycles — a measure, score or rating that depends on itself, however indirectly.

The graph has one node per measure, score, rollup and (rating, score using it). A
read through `unit` or `parent` goes up the unit tree, one through `members`,
`leaders` or `children` goes down. A loop that only ever goes up (a unit's
rating capped by its parent's rating) ends at the root, so it is no cycle; a
loop that reads within one entity, or goes both up and down (a leader's score
reads the unit's score, which reads every member's score), is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.graph import Edges, graph_of, strongly_connected
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import NodeKey, describe_node
from kpidsl.source import Span

_BOTH = frozenset({"up", "down"})


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    edges = graph_of(ctx).edges
    for component in strongly_connected(edges):
        if len(component) == 1:
            node = next(iter(component))
            if node not in edges.get(node, {}):
                continue
        for start in sorted(component, key=lambda k: _declared_at(program, k)):
            walk = _bad_loop(edges, component, start)
            if walk is not None:
                yield _report(walk)
                break


def _declared_at(program: Program, key: NodeKey) -> tuple:
    """A stable order for the nodes of a cycle: where each is declared (a rating: its own declaration)."""
    kind = "score" if key[0] == "population" else key[0]
    tables: dict[str, dict[str, Any]] = {"measure": program.measures, "score": program.scores,
                                         "rollup": program.rollups, "rating": program.ratings}
    table = tables[kind]
    decl = table.get(key[1])
    span = decl.span if decl is not None else None
    # Who a score takes sorts just after its score, so a cycle is told from the score.
    return (span.file, span.start, key[0] == "population", key) if span is not None else ("", 0, False, key)


def _bad_loop(edges: Edges, component: set[NodeKey], start: NodeKey) -> list[tuple[NodeKey, Span]] | None:
    """The shortest loop start -> ... -> start that stays within one entity or goes both up and down.

    Breadth first over (node, directions crossed so far); returns each step's node and the
    place its read is written, or None when every loop through start only goes one way.
    """
    first: tuple[NodeKey, frozenset] = (start, frozenset())
    came_from: dict[tuple, tuple[tuple, Span]] = {}
    queue = deque([first])
    while queue:
        state = queue.popleft()
        node, crossed = state
        for nxt, labels in edges.get(node, {}).items():
            if nxt not in component:
                continue
            for dirs, span in labels.items():
                after = crossed | dirs
                if nxt == start and (not after or after >= _BOTH):
                    # Each step: a node, and where its read of the next node is written.
                    steps = [(node, span)]
                    back = state
                    while back != first:
                        back, step_span = came_from[back]
                        steps.append((back[0], step_span))
                    steps.reverse()
                    return steps
                target = (nxt, after)
                if target not in came_from and target != first:
                    came_from[target] = (state, span)
                    queue.append(target)
    return None


def _report(walk: list[tuple[NodeKey, Span]]) -> Diagnostic:
    # Who a score takes is told as the score itself: its `where` is written in the score.
    nodes: list[NodeKey] = []
    for k in [node for node, _ in walk] + [walk[0][0]]:
        if k[0] == "population":
            if nodes and nodes[-1] == ("score", k[1]):
                continue
            k = ("score", k[1])
        nodes.append(k)
    path = [describe_node(node) for node in nodes]
    if len(path) > 9:
        path = path[:4] + [f"... ({len(path) - 7} more) ..."] + path[-3:]
    words = " -> ".join(path)
    return Diagnostic("KPI070", f"reference cycle: {words}", walk[0][1],
                      help="a value cannot depend on itself; compute one of these from other data")
