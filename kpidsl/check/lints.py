"""Checker pass: lints — warnings for inputs, scales, measures and ratings that nothing uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.walk import name_span
from kpidsl.syntax import nodes as n

# kind, Program table, code, why it counts as unused, how to use it ({} = the name).
_KINDS = (
    ("input", "inputs", "KPI100", "no entity, expression or `ref` column reads it",
     "remove it, or read it in a measure, e.g. `count({})` (through a `ref` column to people or units)"),
    ("scale", "scales", "KPI101", "no criterion is scored by it",
     "remove it, or score a criterion with `scored {}`"),
    ("measure", "measures", "KPI102", "no score, rating, test or other measure reads it",
     "remove it, or use it in a criterion"),
    ("rating", "ratings", "KPI103", "no score or rollup names it",
     "remove it, or add `rating {}` to a score"),
)


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    scope = scope_of(ctx)
    if scope.incomplete:
        return  # a misspelt name would make what it meant look unused
    used = scope.used
    for kind, table, code, why, how in _KINDS:
        yield from _unused(program, getattr(program, table), kind, code, why, how, used)


def _unused(program: Program, table: dict[str, n.Node], kind: str, code: str, why: str, how: str,
            used: set[tuple[str, str]]) -> Iterator[Diagnostic]:
    for name, decl in table.items():
        # What another file declares is judged when that file is checked as a framework of its own.
        if decl.span.file != program.root.span.file or (kind, name) in used:
            continue
        yield Diagnostic(code, f"{kind} `{name}` is never used: {why}", name_span(decl, kind, name),
                         help=how.format(name))
