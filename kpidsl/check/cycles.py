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
from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import NodeKey, describe_node
from kpidsl.source import Span

Edges = dict[NodeKey, dict[NodeKey, dict[frozenset, Span]]]
_BOTH = frozenset({"up", "down"})


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    edges = scope_of(ctx).edges
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


def strongly_connected(edges: Edges) -> Iterator[set[NodeKey]]:
    """Tarjan's algorithm without recursion: each strongly connected set of nodes."""
    index: dict[NodeKey, int] = {}
    low: dict[NodeKey, int] = {}
    on_stack: set[NodeKey] = set()
    stack: list[NodeKey] = []
    counter = 0
    for root in list(edges):
        if root in index:
            continue
        work = [(root, iter(edges.get(root, {})))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            nxt = next(successors, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges.get(nxt, {}))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[NodeKey] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                yield component


def _declared_at(program: Program, key: NodeKey) -> tuple:
    """A stable order for the nodes of a cycle: where each is declared."""
    table = {"measure": program.measures, "score": program.scores, "rollup": program.rollups,
             "rating": program.ratings}[key[0]]
    decl = table.get(key[1])
    span = decl.span if decl is not None else None
    return (span.file, span.start, key) if span is not None else ("", 0, key)


def _bad_loop(edges: Edges, component: set[NodeKey], start: NodeKey) -> list[tuple[NodeKey, Span]] | None:
    """The shortest loop start -> ... -> start that stays within one entity or goes both up and down.

    Breadth first over (node, directions crossed so far); returns each step's node and the
    place its read is written, or None when every loop through start only goes one way.
    """
    first = (start, frozenset())
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
    path = [describe_node(node) for node, _ in walk] + [describe_node(walk[0][0])]
    if len(path) > 9:
        path = path[:4] + [f"... ({len(path) - 7} more) ..."] + path[-3:]
    words = " -> ".join(path)
    return Diagnostic("KPI070", f"reference cycle: {words}", walk[0][1],
                      help="a value cannot depend on itself; compute one of these from other data")
