"""Checker pass: a score block that can never apply, because the scores before it take everyone it could take.

Scores of one entity are tried in declaration order and each takes those its
`where` holds for and no earlier score took. When every person (or unit) a
score's `where` admits is provably taken earlier, the score computes nothing:
KPI106, a warning naming both places. What cannot be proved (too many cases)
is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.semantic.conditions import covered, overlap
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.tree import head_span, where
from kpidsl.semantic.walk import text_of
from kpidsl.syntax import nodes as n


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    before: dict[str, list[n.Score]] = {}
    for score in program.scores.values():
        earlier = before.setdefault(score.entity, [])
        entity_input = program.entity_input(score.entity)
        # Judged in the file that declares the score (as lints are): a file it uses is checked on its own.
        if earlier and entity_input is not None and score.span.file == program.root.span.file:
            fields = entity_input.fields
            if covered(fields, score.where, [e.where for e in earlier]):
                takers = [e for e in earlier if overlap(fields, score.where, e.where)]
                found.append(_never(score, takers))
        earlier.append(score)
    return found


def _never(score: n.Score, takers: list[n.Score]) -> Diagnostic:
    noun = "person" if score.entity == "people" else "unit"
    notes = []
    for other in takers:
        condition = f"where {text_of(other.where)}" if other.where is not None else f"no `where`: every {noun}"
        notes.append(f"taken first by score `{other.name}` ({condition}) at {where(head_span(other))}")
    at = score.where if score.where is not None else score
    return Diagnostic(
        "KPI106", f"score `{score.name}` never applies: every {noun} it could take is taken by an earlier score",
        head_span(at) if at is score else at.span, notes=tuple(notes),
        help="scores of one entity are tried in the order they are declared, and the first whose `where` holds "
             "takes the entity: narrow the earlier score's `where`, or declare this one before it")
