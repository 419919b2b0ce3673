"""The checker: an ordered tuple of same-shaped passes over a resolved Program."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.resolve import Program


@dataclass
class CheckContext:
    """Shared by the passes of one Program: analyses computed once and reused (see scope.py)."""

    program: Program
    cache: dict = field(default_factory=dict)


Pass = Callable[[Program, CheckContext], Iterable[Diagnostic]]


def _passes() -> tuple[Pass, ...]:
    # Imported here so that `kpidsl.check` costs nothing until a check runs.
    from kpidsl.check import (
        cycles,
        limits,
        lints,
        locks,
        missing,
        names,
        population,
        ratings,
        scales,
        types,
        weights,
    )

    return (names.run, types.run, weights.run, scales.run, ratings.run, cycles.run, limits.run, locks.run,
            missing.run, population.run, lints.run)


def check_program(program: Program) -> list[Diagnostic]:
    """Run every pass in order and collect all of their findings."""
    ctx = CheckContext(program)
    found: list[Diagnostic] = []
    for run in _passes():
        found.extend(run(program, ctx))
    return found
