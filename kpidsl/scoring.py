"""Scoring a checked Program: compile its plan (compile/), run it on the engine (engine/), from rows or loaded data."""

from __future__ import annotations

from typing import Any

from kpidsl.engine.execute import EngineError
from kpidsl.period import Period
from kpidsl.plan import Plan

UNSUPPORTED_HELP = ("`kpidsl check` accepted this rule but the engine cannot compute it as written, which is a "
                    "defect of kpidsl: please report it with the framework; meanwhile write the rule differently")


def compile_checked(program, analysis=None) -> Plan:
    """The plan of a Program that checks clean (its scope analysis is built when not given).

    A construct the compiler cannot turn into SQL is an EngineError at its rule: the checker
    should have refused it, so the help line says it is a defect to report.
    """
    from kpidsl.compile.frame import CompileError
    from kpidsl.compile.planner import compile_program

    if analysis is None:
        from kpidsl.check import CheckContext
        from kpidsl.semantic.scope import scope_of

        analysis = scope_of(CheckContext(program))
    try:
        return compile_program(program, analysis)
    except CompileError as err:
        raise EngineError(err.message, err.span, UNSUPPORTED_HELP) from None


def score_period(con: Any, program, analysis=None, period: Period | None = None, plan: Plan | None = None,
                 keep_work: bool = False) -> Plan:
    """Score `period` (already loaded by load_and_validate) and fill the `results` tables; returns the plan run."""
    from kpidsl.engine.execute import run_plan

    if period is None:
        raise EngineError("no period to score")
    if plan is None:
        plan = compile_checked(program, analysis)
    return run_plan(con, plan, period, keep_work)


def run_in_memory(program, tables: dict[str, tuple], period, analysis=None, reject_invalid: bool = False):
    """Load rows given in Python, validate them and score the period: (connection, DataLoad).

    `tables` maps an input to (column names, rows); `period` is a Period or its text
    ("2025-Q3"). Scoring is skipped when the data has problems (see DataLoad.ok).
    """
    from kpidsl.data.sources import MemorySource
    from kpidsl.data.validate import load_and_validate
    from kpidsl.period import parse_period
    from kpidsl.sql.connect import connect

    if isinstance(period, str):
        period = parse_period(period)
    con = connect()
    load = load_and_validate(con, program, MemorySource(tables), period, reject_invalid)
    if load.ok:
        score_period(con, program, analysis, period)
    return con, load


__all__ = ["EngineError", "compile_checked", "run_in_memory", "score_period"]
