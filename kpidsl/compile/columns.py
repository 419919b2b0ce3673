"""The names of the columns a plan computes per entity, built (and matched to their rule) in one place.

Each computed value is a column of an entity's frame, named after the rule that
computes it:

| column | what |
|---|---|
| `f:FIELD` | a field of the entity's input |
| `m:MEASURE` (`:total`, `:matched`) | a measure (and the rows it considered and matched) |
| `s:SCORE:on` | whether the score takes the entity |
| `s:SCORE:PART` | the score's `score`, `status`, `reason`… |
| `s:SCORE:i:PATH:PART` | one item of the score: `credit`, `contribution`, `value`… |
| `r:RATING@VIA:PART` | a rating as score or roll-up VIA uses it: `level`, `final`, `cap0`… |
| `y:ROLLUP:PART` | a roll-up's `score`, `status`… |
"""

from __future__ import annotations

from kpidsl.semantic.types import NodeKey


def field(name: str) -> str:
    return f"f:{name}"


def measure(name: str) -> str:
    return f"m:{name}"


def score_prefix(score: str) -> str:
    return f"s:{score}:"


def score(score: str, part: str) -> str:
    """`part` of a score: on, score, status, reason, exact, ..."""
    return score_prefix(score) + part


def item_prefix(path: str) -> str:
    """Within a score's prefix: the part naming one item (the score itself has none)."""
    return f"i:{path}:" if path else ""


def item(score_name: str, path: str, part: str) -> str:
    """`part` of the item at `path` of a score: credit, contribution, value, ..."""
    return score_prefix(score_name) + item_prefix(path) + part


def rating_prefix(rating: str, via: str) -> str:
    return f"r:{rating}@{via}:"


def rating(rating_name: str, via: str, part: str) -> str:
    return rating_prefix(rating_name, via) + part


def rollup_prefix(rollup: str) -> str:
    return f"y:{rollup}:"


def rollup(rollup_name: str, part: str) -> str:
    return rollup_prefix(rollup_name) + part


def node_prefix(key: NodeKey) -> str:
    """What every column a dependency-graph node computes starts with (a measure: its name exactly)."""
    kind = key[0]
    if kind == "measure":
        return measure(key[1])
    if kind == "population":
        return score(key[1], "on")
    if kind == "score":
        return score_prefix(key[1])
    if kind == "rollup":
        return rollup_prefix(key[1])
    return rating_prefix(key[1], key[3])


class NodeColumns:
    """The columns some graph nodes compute: `column in NodeColumns(keys)`."""

    def __init__(self, keys: list[NodeKey] | tuple[NodeKey, ...] = ()) -> None:
        self.prefixes = tuple(node_prefix(k) for k in keys)

    def __contains__(self, column: object) -> bool:
        return isinstance(column, str) and any(
            column == p or (p.endswith(":") and column.startswith(p)) or column.startswith(p + ":")
            for p in self.prefixes)
