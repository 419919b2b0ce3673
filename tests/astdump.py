"""A readable, stable dump of an AST with each node's line:column, for golden files."""

from __future__ import annotations

import dataclasses
import datetime
from fractions import Fraction

from kpidsl.syntax.nodes import Node


def dump(value, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, Node):
        head = f"{type(value).__name__} @{value.span.line}:{value.span.column}"
        lines = [head]
        for f in dataclasses.fields(value):
            if not f.compare:
                continue
            child = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and child == f.default:
                continue
            rendered = dump(child, indent + 2)
            if "\n" in rendered or isinstance(child, (Node, tuple)):
                lines.append(f"{pad}  {f.name}:\n{'  ' * (indent + 2)}{rendered.lstrip()}")
            else:
                lines.append(f"{pad}  {f.name}: {rendered}")
        return "\n".join(lines)
    if isinstance(value, tuple):
        if all(isinstance(v, str) for v in value):
            return "[" + ", ".join(value) + "]"
        return "\n".join(("  " * indent) + "- " + dump(v, indent + 1).lstrip() for v in value)
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, (datetime.date, bool, int)):
        return str(value)
    return repr(value)
