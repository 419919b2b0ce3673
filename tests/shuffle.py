"""Shuffling a framework's top-level declarations without changing what it says.

Declaration order carries meaning in a few places only, and those keep their order:
the scores (and the roll-ups) of one entity, since an entity takes the first score
whose `where` holds; `use` and `extends`, `extend` blocks and tests. Every other
declaration may go anywhere. Comments are dropped (the formatter would place them
next to a declaration that moved away from them).
"""

from __future__ import annotations

import random
from dataclasses import replace

from kpidsl.fmt import format_framework
from kpidsl.source import SourceFile
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import parse_source


def _chain(decl: n.Node) -> tuple:
    """Declarations with the same chain keep their order among themselves; None moves freely."""
    if isinstance(decl, (n.Use, n.Extends)):
        return ("head",)
    if isinstance(decl, (n.Score, n.Rollup)):
        return (type(decl).__name__, decl.entity)
    if isinstance(decl, (n.ExtendBlock, n.Require, n.Test)):
        return (type(decl).__name__,)
    return (id(decl),)


def shuffled(text: str, rnd: random.Random, path: str = "main.kpi") -> str:
    """`text` with its top-level declarations in a random order that keeps its meaning."""
    framework, diags = lower(parse_source(SourceFile(path, text)))
    assert framework is not None and not [d for d in diags if d.is_error], diags
    decls = list(framework.decls)
    head = [d for d in decls if _chain(d) == ("head",)]
    rest = [d for d in decls if _chain(d) != ("head",)]
    slots = list(range(len(rest)))
    rnd.shuffle(slots)
    # Chains keep their order: each chain's members fill, in order, the slots its members drew.
    out: list[n.Node | None] = [None] * len(rest)
    chains: dict[tuple, list[int]] = {}
    for i, d in enumerate(rest):
        chains.setdefault(_chain(d), []).append(i)
    for members in chains.values():
        for i, slot in zip(members, sorted(slots[i] for i in members)):
            out[slot] = rest[i]
    return format_framework(replace(framework, decls=tuple(head + out), comments=()))
