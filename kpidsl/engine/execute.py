"""Run a Plan it is given on a DuckDB connection whose `data` schema holds a validated period, filling `results.*`.

The plan reads each input through a view in the schema `kpi_src`: the loaded table
itself for a period, or its rows of one period when a longer period (a year) is
rolled up from the framework's periods (quarters). A failing statement becomes an
EngineError naming the step and the framework line it implements.
"""

from __future__ import annotations

from typing import Any

from kpidsl.period import KINDS, Period, periods_within
from kpidsl.plan import BOUNDS, SOURCE, WORK, Plan, Step
from kpidsl.sql.quoting import DATA_SCHEMA, ident, qualified

OVERFLOW_HELP = ("a value this rule computes is too large to keep exactly (numbers keep 12 decimal places, so a "
                 "product above about 10^14 overflows); check the data this rule reads, or compute with smaller "
                 "quantities")
REFUSED_HELP = ("the database refused a statement this rule was compiled to, on this period's data; check the "
                "data this rule reads, and report it with the framework if the data is valid")


class EngineError(Exception):
    """Scoring could not be done; the message says why and where (the step and its framework line), the help
    what caused it."""

    def __init__(self, message: str, span=None, help: str | None = None) -> None:
        where = f"{span.file}:{span.line}: " if span is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.span = span
        self.help = help


def run_plan(con: Any, plan: Plan, period: Period | None, keep_work: bool = False) -> Plan:
    """Score `period` (already loaded by load_and_validate) with `plan` and fill the `results` tables.

    A period longer than the framework's (a year of a quarterly framework) is scored
    period by period and rolled up by the plan's roll-ups. The work tables (schema
    kpi_run) are dropped afterwards unless `keep_work`.
    """
    try:
        return _run(con, plan, period)
    finally:
        if not keep_work:
            con.execute(f"DROP SCHEMA IF EXISTS {ident(WORK)} CASCADE")


def _run(con: Any, plan: Plan, period: Period | None) -> Plan:
    if period is None:
        raise EngineError("no period to score")
    if plan.period_kind is None or period.kind == plan.period_kind:
        prepare(con, plan)
        run_steps(con, [*plan.setup, *plan.steps, *plan.results])
        return plan
    rollups = [r for r in plan.rollups if r.per == period.kind]
    if KINDS.index(period.kind) < KINDS.index(plan.period_kind) or not rollups:
        raise EngineError(f"this framework scores each {plan.period_kind}; {period.label} is a {period.kind}"
                          + ("" if rollups or KINDS.index(period.kind) < KINDS.index(plan.period_kind)
                             else f" and no `rollup ... per {period.kind}` is declared"))
    roll(con, plan, period, rollups)
    return plan


def prepare(con: Any, plan: Plan, filtered: bool = False) -> None:
    """The work and source schemas; each input as a view over its loaded table."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(WORK)}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(SOURCE)}")
    dated = dict(plan.period_inputs)
    for name in plan.inputs:
        data = qualified(DATA_SCHEMA, name)
        view = qualified(SOURCE, name)
        if filtered and name in dated:
            column = ident(dated[name])
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT d.* FROM {data} AS d, {BOUNDS} AS k "
                        f"WHERE d.{column} BETWEEN k.lo AND k.hi")
        else:
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {data}")


def run_steps(con: Any, steps: list[Step], extra: dict[str, Any] | None = None) -> None:
    import duckdb

    for s in steps:
        params = dict(s.params)
        if extra:
            params.update({k: v for k, v in extra.items() if f"${k}" in s.sql})
        try:
            con.execute(s.sql, params)
        except duckdb.Error as err:
            overflow = isinstance(err, (duckdb.OutOfRangeException, duckdb.ConversionException))
            raise EngineError(f"{s.name}: {_first_line(err)}", s.span,
                              OVERFLOW_HELP if overflow else REFUSED_HELP) from None
        if s.kind == "levels":
            _levels(con, s)


def _levels(con: Any, s: Step) -> None:
    """Run a step's body once per depth of the unit tree, leaves first (down) or the root first (up)."""
    base = next(t for t in s.reads)
    depths = [d for (d,) in con.execute(f'SELECT DISTINCT "_depth" FROM {base} WHERE "_depth" IS NOT NULL '
                                        'ORDER BY 1').fetchall()]
    if s.direction == "down":
        depths.reverse()
    for depth in depths:
        run_steps(con, list(s.body), {"level": depth})


def roll(con: Any, plan: Plan, period: Period, rollups) -> None:
    """Score each of the framework's periods within `period`, keep their results, then roll them up."""
    assert plan.period_kind is not None   # a plan without a period kind scores any period directly
    parts = periods_within(period, plan.period_kind)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(WORK)}")
    con.execute(f"CREATE OR REPLACE TABLE {BOUNDS} (lo DATE, hi DATE)")
    prepare(con, plan, filtered=True)
    first = True
    for part in parts:
        con.execute(f"DELETE FROM {BOUNDS}")
        con.execute(f"INSERT INTO {BOUNDS} VALUES ($lo, $hi)", {"lo": part.start, "hi": part.end})
        run_steps(con, [*plan.setup, *plan.steps])
        for rollup in rollups:
            capture = list(rollup.capture)
            if first:
                run_steps(con, capture[:1])
            run_steps(con, capture[1:], {"period": part.label})
        first = False
    con.execute(f"DELETE FROM {BOUNDS}")
    con.execute(f"INSERT INTO {BOUNDS} VALUES ($lo, $hi)", {"lo": period.start, "hi": period.end})
    for rollup in rollups:
        run_steps(con, [*rollup.steps, *rollup.results])


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


__all__ = ["EngineError", "run_plan"]
