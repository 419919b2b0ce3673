"""The dependency graph: what every measure, score, roll-up and rating reads; the checker's cycles and the plan's order.

Nodes (see NodeKey): ("measure", m); ("population", s), who score s takes (its
`where` and the `where` of every earlier score for the same entity); ("score", s);
("rating", r, "score", s), rating r as score s uses it; ("rollup", y);
("rating", r, "rollup", y). The scope analysis records every read a name makes
(`Analysis.edges`); this module adds the reads that hold by construction (a score
reads who it takes, a rating the score or roll-up it rates) and answers the two
questions asked of the graph: which nodes depend on each other in a circle
(`components`), and in which order the nodes are computed (`order`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from kpidsl.semantic.resolve import Program
from kpidsl.semantic.types import Analysis, NodeKey
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

# node -> what it reads -> {directions crossed: where the read is first written}
Edges = dict[NodeKey, dict[NodeKey, dict[frozenset, Span]]]

# Where a node sorts among nodes declared at the same place: who a score takes before its score.
_RANK = {"measure": 0, "population": 0, "score": 1, "rollup": 1, "rating": 2}


@dataclass(frozen=True)
class Graph:
    """Every node of one Program in declaration order, and what each reads."""

    nodes: tuple[NodeKey, ...]
    edges: Edges
    position: dict[NodeKey, tuple]

    def components(self) -> list[list[NodeKey]]:
        """The strongly connected sets of nodes, each in declaration order."""
        comps = [sorted(c, key=self.position.__getitem__) for c in strongly_connected(self.edges)]
        covered = {k for c in comps for k in c}
        comps += [[k] for k in self.nodes if k not in covered]
        return comps

    def order(self, keep: set[NodeKey] | None = None) -> list[list[NodeKey]]:
        """Components in dependency order (a node after everything it reads), ties broken by declaration.

        With `keep`, only those nodes (and reads among them) are ordered. A component of more
        than one node, or of one that reads itself, is a recursion along the unit tree.
        """
        edges = self.edges if keep is None else {
            k: {d: v for d, v in self.edges[k].items() if d in keep} for k in self.nodes if k in keep}
        nodes = [k for k in self.nodes if keep is None or k in keep]
        comps = [sorted(c, key=self.position.__getitem__) for c in strongly_connected(edges)]
        covered = {k for c in comps for k in c}
        comps += [[k] for k in nodes if k not in covered]
        comp_of = {k: i for i, c in enumerate(comps) for k in c}
        deps = {i: {comp_of[d] for k in c for d in edges[k] if comp_of[d] != i} for i, c in enumerate(comps)}
        users: dict[int, set[int]] = {i: set() for i in range(len(comps))}
        for i, ds in deps.items():
            for d in ds:
                users[d].add(i)
        waiting = {i: len(ds) for i, ds in deps.items()}
        heap = [(self.position[comps[i][0]], i) for i in range(len(comps)) if not waiting[i]]
        heapq.heapify(heap)
        out: list[list[NodeKey]] = []
        while heap:
            _, i = heapq.heappop(heap)
            out.append(comps[i])
            for u in users[i]:
                waiting[u] -= 1
                if not waiting[u]:
                    heapq.heappush(heap, (self.position[comps[u][0]], u))
        return out

    def entity(self, program: Program, key: NodeKey) -> str:
        """The entity a node is computed for."""
        return declaration(program, key).entity


def declaration(program: Program, key: NodeKey) -> n.Measure | n.Score | n.Rollup:
    """The declaration a node comes from (a rating use: the score or roll-up that uses it)."""
    kind = key[0]
    if kind == "measure":
        return program.measures[key[1]]
    if kind in ("score", "population"):
        return program.scores[key[1]]
    if kind == "rollup":
        return program.rollups[key[1]]
    return program.scores[key[3]] if key[2] == "score" else program.rollups[key[3]]


def dependency_graph(program: Program, analysis: Analysis) -> Graph:
    """The graph of `program` from the reads its scope analysis recorded."""
    nodes: list[NodeKey] = [("measure", m) for m in program.measures]
    for score in program.scores.values():
        nodes += [("population", score.name), ("score", score.name)]
        rating = _rating_used(program, score)
        if rating is not None:
            nodes.append(("rating", rating, "score", score.name))
    for rollup in program.rollups.values():
        nodes.append(("rollup", rollup.name))
        rating = _rating_used(program, rollup)
        if rating is not None:
            nodes.append(("rating", rating, "rollup", rollup.name))
    edges: Edges = {k: {} for k in nodes}
    for key in nodes:
        for dep, labels in analysis.edges.get(key, {}).items():
            if dep in edges:
                reads = edges[key].setdefault(dep, {})
                for dirs, span in labels.items():
                    reads.setdefault(dirs, span)
        decl = declaration(program, key)
        if key[0] == "score":
            edges[key].setdefault(("population", key[1]), {}).setdefault(frozenset(), decl.span)
        elif key[0] == "rating":
            edges[key].setdefault((key[2], key[3]), {}).setdefault(frozenset(), decl.span)
    files = {f: i for i, f in enumerate(program.files)}
    position = {}
    for i, key in enumerate(nodes):
        span = declaration(program, key).span
        position[key] = (files.get(span.file, len(files)), span.start, _RANK[key[0]], i)
    return Graph(tuple(nodes), edges, position)


def graph_of(ctx) -> Graph:
    """The dependency graph of ctx.program, computed on first use (see scope.scope_of)."""
    from kpidsl.semantic.scope import scope_of

    found = ctx.cache.get("graph")
    if found is None:
        found = ctx.cache["graph"] = dependency_graph(ctx.program, scope_of(ctx))
    return found


def _rating_used(program: Program, block: n.Score | n.Rollup) -> str | None:
    """The rating a score or roll-up uses: its first `rating NAME` that names a declared rating."""
    return next((i.name for i in block.items if isinstance(i, n.UseRating) and i.name in program.ratings), None)


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
