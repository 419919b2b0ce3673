"""The plan: the SQL steps that score one period (and roll periods up), in an order that respects every dependency.

A Plan is plain data: each Step is one statement with its bound parameters and
the rules of the framework it implements (each with its source Span), so a
reader can go from any table the engine builds back to the lines that define it.
Steps that compute several rules of one entity in one pass (a *stage*) list all
of them; a `levels` step repeats its body once per depth of the unit tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kpidsl.source import Span
from kpidsl.sql.quoting import qualified

StepKind = Literal["base", "scan", "stage", "results", "capture", "levels", "rollup"]
RuleKind = Literal["measure", "score", "rating", "rollup", "scan", "base", "results", "quota"]

# ---------------------------------------------------------------- the schemas a plan reads and writes
WORK = "kpi_run"
"""The plan's work tables (stages, scans), dropped after a run."""
SOURCE = "kpi_src"
"""A view per input over its loaded rows (of one period, while a longer period is rolled up)."""


def work_table(name: str) -> str:
    return qualified(WORK, name)


PERIOD_RESULTS = work_table("period_results")
"""A roll-up run's results of each period, appended after each period is scored."""

BOUNDS = work_table("bounds")
"""The first and last day of the period being scored, read by the filtered source views."""

# ---------------------------------------------------------------- the results schema
RESULTS_SCHEMA = "results"
DEC = "DECIMAL(38,12)"

RESULT_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "entities": (("entity", "VARCHAR"), ("id", "VARCHAR"), ("score_name", "VARCHAR"), ("status", "VARCHAR"),
                 ("score", DEC), ("rating", "VARCHAR"), ("rating_label", "VARCHAR"), ("rating_before", "VARCHAR"),
                 ("unit_id", "VARCHAR"), ("reason", "VARCHAR")),
    "items": (("entity", "VARCHAR"), ("id", "VARCHAR"), ("score_name", "VARCHAR"), ("path", "VARCHAR"),
              ("parent_path", "VARCHAR"), ("kind", "VARCHAR"), ("label", "VARCHAR"), ("value", DEC),
              ("credit", DEC), ("weight", DEC), ("budget", DEC), ("contribution", DEC),
              ("missing_policy", "VARCHAR"), ("scale", "VARCHAR"), ("line", "INTEGER"), ("file", "VARCHAR"),
              ("value_text", "VARCHAR")),
    "measures": (("entity", "VARCHAR"), ("id", "VARCHAR"), ("name", "VARCHAR"), ("value", DEC),
                 ("rows_total", "BIGINT"), ("rows_matched", "BIGINT"), ("value_text", "VARCHAR")),
    "rating_steps": (("entity", "VARCHAR"), ("id", "VARCHAR"), ("score_name", "VARCHAR"), ("step", "VARCHAR"),
                     ("from_level", "VARCHAR"), ("to_level", "VARCHAR"), ("reason", "VARCHAR"),
                     ("line", "INTEGER"), ("file", "VARCHAR")),
    "quota": (("rating", "VARCHAR"), ("level", "VARCHAR"), ("of_level", "VARCHAR"), ("group_key", "VARCHAR"),
              ("allowed", "BIGINT"), ("holders", "BIGINT"), ("resolution", "VARCHAR"), ("kept", "VARCHAR[]"),
              ("moved", "VARCHAR[]")),
}
"""The `results` schema the engine fills (compile/results.py builds it, output/tables.py writes it out):
table -> (column, type), in order. `value_text` holds a
value that is not a number (an enum value, true/false), whose `value` is then NULL (or 1/0)."""

OPTIONAL_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "periods": (("period", "VARCHAR"), ("entity", "VARCHAR"), ("id", "VARCHAR"), ("score_name", "VARCHAR"),
                ("status", "VARCHAR"), ("score", DEC), ("rating", "VARCHAR"), ("reason", "VARCHAR")),
}
"""Result tables only some runs have: `periods` holds each period's results in a roll-up run."""

WIDE_FIELDS = ("value", "value_text", "contribution", "weight", "credit")
WIDE_PREFIX = "wide:"
"""A period run also leaves one wide table per entity (`wide_table`): the columns of its row in
`entities`, then for each item path of its scores these fields, named `PATH:FIELD`, with the values
`items` holds for it. The people and units outputs are read from there; without it (a roll-up run,
tables filled by hand) they are pivoted from `items`."""

MATCHED_COLUMN = "~matched"
"""A column of each wide table: how many of the entity's scores have a `where` that holds for it,
whether or not an earlier score took it (0: matched by none; 2 or more: matched by several)."""


def wide_table(entity: str) -> str:
    return qualified(RESULTS_SCHEMA, f"{WIDE_PREFIX}{entity}")


@dataclass(frozen=True)
class Rule:
    """One rule of the framework that a step computes: what it is, where it is written, the SQL of its value."""

    kind: RuleKind
    name: str
    span: Span | None
    sql: str = ""      # the expressions it adds (for reading the plan), not executed on its own


@dataclass(frozen=True)
class Step:
    """One statement: it creates `creates` from the tables in `reads`, with `params` bound by name."""

    name: str
    kind: StepKind
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    entity: str | None = None
    creates: str | None = None
    reads: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    # A `levels` step: run `body` once per depth of the unit tree, leaves first ("down", reading
    # children) or the root first ("up", reading the parent), with $level bound to the depth.
    body: tuple[Step, ...] = ()
    direction: str | None = None

    @property
    def span(self) -> Span | None:
        """The source of the (first) rule this step implements."""
        return next((r.span for r in self.rules if r.span is not None), None)


@dataclass(frozen=True)
class RollupPlan:
    """How the results of a longer period (`per year`) are built from the framework's periods."""

    per: str                  # the longer period kind: year, quarter
    names: tuple[str, ...]    # the rollups computed
    capture: tuple[Step, ...]  # after each period: keep its results in the period results table
    steps: tuple[Step, ...]   # over the whole longer period: the rollups' frames
    results: tuple[Step, ...]  # the result tables of the rollup run


@dataclass(frozen=True)
class Plan:
    """Everything needed to score a period: setup, the scoring steps, and the result tables."""

    period_kind: str | None
    rounding: tuple[int, str]
    setup: tuple[Step, ...]
    steps: tuple[Step, ...]
    results: tuple[Step, ...]
    rollups: tuple[RollupPlan, ...] = ()
    inputs: tuple[str, ...] = ()       # the inputs read, each as a view in the source schema
    period_inputs: tuple[tuple[str, str], ...] = ()   # (input, its `period by` date column)

    def all_steps(self) -> list[Step]:
        out: list[Step] = [*self.setup, *self.steps, *self.results]
        for rollup in self.rollups:
            out.extend([*rollup.capture, *rollup.steps, *rollup.results])
        return out

    def describe(self) -> str:
        """The plan as text: one line per step and its rules, for reading and debugging."""
        lines = []
        for step in self.all_steps():
            where = f"  ({step.span.file}:{step.span.line})" if step.span is not None else ""
            lines.append(f"{step.kind:8} {step.name}{where}")
            for rule in step.rules:
                at = f"{rule.span.file}:{rule.span.line}" if rule.span is not None else "-"
                lines.append(f"           {rule.kind} {rule.name} @ {at}")
        return "\n".join(lines)
