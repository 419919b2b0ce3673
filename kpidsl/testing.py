"""`kpidsl test`: score each `test` block's data with its framework and compare every expectation.

A test is run in a fresh in-memory DuckDB: its `given` rows become a MemorySource,
`load_and_validate` types them for the test's period, the engine scores the period
into the `results.*` tables, and each `expect` is compared with what they hold.

What an `expect` compares (docs/cli.md, "kpidsl test"):
- `score` (or `SCORE.score`, `ROLLUP.score`): the published, rounded score, exactly;
- `rating` (or `SCORE.rating`, `ROLLUP.rating`): the final level, after overrides, caps and quotas;
- a measure: its exact value;
- a criterion (or `SCORE.criterion`, `group.criterion`): its credit on the 0-100 scale;
  a group, bonus or penalty: the points it adds to its block;
- `none` as the value: the result is missing.
In the 0-100 positions (score, credit, points) a percent literal means the same
number (`80%` = 80), as it does in a scale's output; for a measure `80%` is 0.8.

A test without a `period` scores the period of the framework's kind that holds its
effective date (`effective 2025-07-01`, `period quarter` -> 2025-Q3).

Every failure is a Diagnostic: KPI095 when the test's own data is invalid, KPI096
when an expectation is not met (at the `expect`, with the actual value).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kpidsl.diagnostics import Diagnostic
from kpidsl.diagnostics.codes import UNREADABLE
from kpidsl.period import Period, effective_problem, parse_period, period_of
from kpidsl.semantic.resolve import Program
from kpidsl.syntax import nodes as n

# Codes that mean a framework file could not be read at all (as `kpidsl check`): exit 2.
UNREADABLE_CODES = UNREADABLE

Tables = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]
# Fills the `results.*` tables of `con` for `period`, from the typed data already loaded;
# raises ScoringError (or an engine/DuckDB error) when the period cannot be scored.
Scorer = Callable[[Any, Program, Period], None]


class ScoringError(Exception):
    """Scoring a test's data failed as a whole; the message says why in plain words."""


# ---------------------------------------------------------------- outcomes

@dataclass(frozen=True)
class TestOutcome:
    """One test block: where it is, and the diagnostics of everything that failed in it."""

    __test__ = False  # not a pytest class

    file: str
    test: n.Test
    failures: tuple[Diagnostic, ...] = ()
    checked: int = 0  # expectations compared

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class TestRun:
    """Every test of every file named: outcomes, and the problems that kept files from running."""

    __test__ = False

    files: tuple[str, ...]
    outcomes: tuple[TestOutcome, ...]
    diagnostics: tuple[Diagnostic, ...] = ()  # missing paths, unreadable files, framework errors

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    @property
    def unreadable(self) -> bool:
        return any(d.code in UNREADABLE_CODES for d in self.diagnostics)

    @property
    def exit_code(self) -> int:
        if self.unreadable:
            return 2
        if self.failed or any(d.is_error for d in self.diagnostics):
            return 1
        return 0

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


# ---------------------------------------------------------------- running

def run_paths(paths: Sequence[str], scorer: Scorer | None = None) -> TestRun:
    """Run the tests of every framework file named, or found below a folder named."""
    from kpidsl.paths import expand_paths
    from kpidsl.semantic.resolve import Loader

    files, missing = expand_paths(list(paths))
    diags: list[Diagnostic] = [_path_problem(p, "no such file or folder", "check the spelling of the path")
                               for p in missing]
    for p in paths:
        if os.path.isdir(p) and not any(_is_below(f, p) for f in files):
            diags.append(_path_problem(p, "this folder holds no `.kpi` files",
                                       "name a framework file or a folder that contains some"))
    loader = Loader()
    outcomes: list[TestOutcome] = []
    for path in files:
        program, problems = _checked_program(path, loader)
        diags.extend(problems)
        if program is None:
            continue
        if problems:
            # The framework has errors: its tests cannot run, and each counts as failed.
            outcomes.extend(TestOutcome(path, t, (_cannot_run(t, "the framework has errors (listed above)"),))
                            for t in program.tests)
            continue
        outcomes.extend(run_program(program, scorer))
    return TestRun(tuple(files), tuple(outcomes), tuple(diags))


def run_program(program: Program, scorer: Scorer | None = None) -> list[TestOutcome]:
    """Run every test declared in the program's root file."""
    score = scorer or engine_scorer()
    return [run_test(program, test, score) for test in program.tests]


def run_test(program: Program, test: n.Test, scorer: Scorer) -> TestOutcome:
    """Load the test's rows, score them, and compare each expectation."""
    from kpidsl.data.sources import MemorySource
    from kpidsl.data.validate import load_and_validate
    from kpidsl.sql.connect import connect

    file = test.span.file
    problems: list[Diagnostic] = []
    period = test_period(program, test, problems)
    tables, givens = given_tables(test, problems)
    expects = [i for i in test.items if isinstance(i, n.Expect)]
    errors = [i for i in test.items if isinstance(i, n.ExpectError)]
    if problems or period is None:
        return TestOutcome(file, test, tuple(problems))
    outside = _outside_rows(program, givens, period)
    con = connect()
    try:
        load = load_and_validate(con, program, MemorySource(tables), period)
        if not load.ok:
            messages = [p.render() for p in load.problems]
            failures = _data_failures(test, givens, load.problems) if not errors else []
            return _noted(_failed_run(file, test, messages, errors, expects, failures,
                                      "the test's data has problems"), outside)
        try:
            scorer(con, program, period)
        except _scoring_errors() as err:
            message = _error_text(err)
            return _noted(_failed_run(file, test, [message], errors, expects, [], f"scoring failed: {message}"),
                          outside)
        results = Results.read(con)
    finally:
        con.close()
    failures: list[Diagnostic] = []
    reasons = results.error_reasons()
    for item in errors:
        if not any(item.message in r for r in reasons):
            failures.append(_expected_error_missing(test, item, reasons))
    for item in expects:
        failure = compare(program, results, item, test)
        if failure is not None:
            failures.append(failure)
    return _noted(TestOutcome(file, test, tuple(failures), checked=len(expects) + len(errors)), outside)


def _outside_rows(program: Program, givens: dict[str, n.Given], period: Period) -> list[str]:
    """For each input read by period, the given rows whose date falls outside the test's period, in words."""
    found = []
    for name, given in givens.items():
        inp = program.inputs.get(name)
        if inp is None or inp.period_by not in given.columns:
            continue
        at = given.columns.index(inp.period_by)
        key = given.columns.index(inp.key) if inp.key in given.columns else None
        rows = []
        for row in given.rows:
            cell = row.cells[at] if at < len(row.cells) else None
            if isinstance(cell, n.DateLit) and cell.value not in period:
                keyed = key is not None and key < len(row.cells)
                label = show_cell(row.cells[key]) if keyed else f"line {row.span.line}"
                rows.append(f"{label} ({inp.period_by} {cell.value.isoformat()})")
        if rows:
            shown = ", ".join(rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
            found.append(f"{len(rows)} of the {len(given.rows)} rows given for `{name}` fall outside "
                         f"{period.label} ({period.start.isoformat()} to {period.end.isoformat()}) and are not "
                         f"read: {shown}")
    return found


def _noted(outcome: TestOutcome, outside: list[str]) -> TestOutcome:
    """A failed test says when some of its rows were not read (a moved `effective` or `period`, a typo in a date)."""
    if outcome.passed or not outside:
        return outcome
    first, *rest = outcome.failures
    first = dataclasses.replace(first, notes=(*first.notes, *outside))
    return dataclasses.replace(outcome, failures=(first, *rest))


def _failed_run(file: str, test: n.Test, messages: list[str], errors: list[n.ExpectError],
                expects: list[n.Expect], failures: list[Diagnostic], why: str) -> TestOutcome:
    """The data could not be scored: `expect error`s are met by a message; other expectations cannot be."""
    found = list(failures)
    for item in errors:
        if not any(item.message in m for m in messages):
            found.append(_expected_error_missing(test, item, messages))
    if not errors and not found:
        found.append(_cannot_run(test, why, notes=tuple(m for m in messages[:10] if m not in why)))
    for item in expects:
        found.append(Diagnostic("KPI096", f"{_subject(item)}: no result to compare, {why}", item.span,
                                help="fix the test's data, or expect the error with `expect error \"...\"`"))
    return TestOutcome(file, test, tuple(found), checked=len(expects) + len(errors))


def engine_scorer() -> Scorer:
    """The engine's `score_period`; each program is compiled once for all of its tests."""
    from kpidsl.scoring import compile_checked, score_period

    plans: dict[int, tuple[Program, Any]] = {}  # the program is kept so its id stays its own

    def score(con: Any, program: Program, period: Period) -> None:
        known = plans.get(id(program))
        if known is None:
            known = plans[id(program)] = (program, compile_checked(program))
        score_period(con, program, period=period, plan=known[1])

    return score


def _scoring_errors() -> tuple[type[BaseException], ...]:
    """What a failed scoring raises: our own error, the engine's, DuckDB's."""
    import duckdb

    from kpidsl.compile.frame import CompileError
    from kpidsl.scoring import EngineError

    return (ScoringError, EngineError, CompileError, duckdb.Error)


def _error_text(err: BaseException) -> str:
    """The error's first line; the engine's errors start with the framework line they come from."""
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]


def _checked_program(path: str, loader: Any) -> tuple[Program | None, list[Diagnostic]]:
    """The program of one root file, and its errors (warnings are left to `kpidsl check`)."""
    from kpidsl.pipeline import check_file

    program, diags = check_file(path, loader)
    return program, [d for d in diags if d.is_error]


# ---------------------------------------------------------------- the test's period and data

def test_period(program: Program, test: n.Test, problems: list[Diagnostic]) -> Period | None:
    """The test's `period`, else the period of the framework's kind that holds its effective date."""
    given = [i for i in test.items if isinstance(i, n.TestPeriod)]
    for extra in given[1:]:
        problems.append(Diagnostic("KPI095", "this test gives its period twice", extra.span,
                                   help="keep one `period` line"))
    root = program.root
    if given:
        try:
            period = parse_period(given[0].period)
        except ValueError as err:
            problems.append(Diagnostic("KPI095", str(err), given[0].span,
                                       help="write a year (2026), a quarter (2025-Q3) or a month (2025-09)"))
            return None
        at = given[0].span
    elif root.effective is None or root.period is None:
        missing = "effective date" if root.effective is None else "period kind"
        problems.append(Diagnostic("KPI095", f"this test has no `period`, and the framework has no {missing} "
                                   "to take it from", _head(test),
                                   help="add a line such as `period 2025-Q3` to the test"))
        return None
    else:
        period, at = period_of(root.effective, root.period), _head(test)
    name = f"{root.id} {root.version}" if root.version else root.id
    late = effective_problem(name, root.effective, period, root.period, way_out="give the test a later period")
    if late is not None:
        # `run` refuses this period too: a test may not show results the framework cannot produce.
        problems.append(Diagnostic("KPI095", late, at,
                                   help=f"give the test a period from {root.effective} on, as `run` would score"))
        return None
    return period


def given_tables(test: n.Test, problems: list[Diagnostic]) -> tuple[Tables, dict[str, n.Given]]:
    """Each `given` as (columns, rows of Python values) for a MemorySource, and the block per input."""
    tables: Tables = {}
    blocks: dict[str, n.Given] = {}
    for item in test.items:
        if not isinstance(item, n.Given):
            continue
        first = blocks.get(item.input)
        if first is not None:
            problems.append(Diagnostic("KPI095", f"rows of `{item.input}` are already given at line "
                                       f"{first.span.line}", _head(item),
                                       help="give all rows of one input in one `given` block"))
            continue
        blocks[item.input] = item
        tables[item.input] = (tuple(item.columns), [tuple(cell_value(c) for c in row.cells) for row in item.rows])
    return tables, blocks


def cell_value(cell: n.Node) -> Any:
    """A test cell as the Python value a data file would hold (25% is 0.25, `none` is absent)."""
    if isinstance(cell, n.Num):
        return cell.value
    if isinstance(cell, (n.Text, n.DateLit, n.Bool)):
        return cell.value
    if isinstance(cell, n.Name):
        return ".".join(cell.parts)
    return None


def _data_failures(test: n.Test, givens: dict[str, n.Given], found: Iterable[Any]) -> list[Diagnostic]:
    """Each data problem as KPI095 at the cell (or row, or block) of the test that holds it."""
    out = []
    for p in found:
        given = givens.get(p.input)
        span = _head(given) if given is not None else _head(test)
        if given is not None and p.row is not None and 1 <= p.row <= len(given.rows):
            row = given.rows[p.row - 1]
            span = row.span
            if p.column in given.columns:
                span = row.cells[given.columns.index(p.column)].span
        column = f"column {p.column}: " if p.column and p.row is not None else ""
        out.append(Diagnostic("KPI095", f"given {p.input}: {column}{p.message}", span,
                              notes=(f"in test \"{test.label}\"",),
                              help="correct the value, or expect the problem with `expect error \"...\"`"))
    return out


# ---------------------------------------------------------------- results

@dataclass
class Results:
    """The result tables of one scored test, as Python values keyed for lookup."""

    entities: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    items: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    measures: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    @classmethod
    def read(cls, con: Any) -> Results:
        out = cls()
        for row in _rows(con, "entities", ["entity", "id", "score_name", "status", "score", "rating", "reason"]):
            out.entities.setdefault((row["entity"], row["id"]), []).append(row)
        for row in _rows(con, "items", ["entity", "id", "score_name", "path", "kind", "value", "credit",
                                        "contribution"]):
            out.items.setdefault((row["entity"], row["id"], row["score_name"]), []).append(row)
        for row in _rows(con, "measures", ["entity", "id", "name", "value"]):
            out.measures[(row["entity"], row["id"], row["name"])] = row["value"]
        return out

    def error_reasons(self) -> list[str]:
        return [r["reason"] or "" for rows in self.entities.values() for r in rows if r["status"] == "error"]


def _rows(con: Any, table: str, columns: list[str]) -> list[dict[str, Any]]:
    from kpidsl.sql.quoting import ident, qualified

    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'results' "
                         "AND table_name = $t", {"t": table}).fetchall()[0][0]
    if not exists:
        return []  # nothing of that kind was computed
    order = ", ".join(ident(c) for c in columns[:4])
    found = con.execute(f"SELECT {', '.join(ident(c) for c in columns)} FROM {qualified('results', table)} "
                        f"ORDER BY {order}").fetchall()
    return [dict(zip(columns, row)) for row in found]


# ---------------------------------------------------------------- comparing one expectation

@dataclass(frozen=True)
class Actual:
    """What the results hold for an expectation: a value, or why there is none."""

    value: Any = None
    kind: str = "number"  # score | points | credit | number | level | text | bool | date
    absent: str | None = None  # why nothing can be compared (no such person, not scored, ...)
    notes: tuple[str, ...] = ()


def compare(program: Program, results: Results, expect: n.Expect, test: n.Test) -> Diagnostic | None:
    """None when the expectation holds, else a KPI096 saying what was expected and what was found."""
    actual = lookup(program, results, expect)
    subject = _subject(expect)
    where = (f"in test \"{test.label}\" at {test.span.file}:{test.span.line}:{test.span.column}",)
    if actual.absent is not None:
        return Diagnostic("KPI096", f"{subject}: {actual.absent}", expect.span, notes=where + actual.notes,
                          help=f"expected {show_cell(expect.value)}")
    wanted = expected_value(expect.value, actual.kind)
    if _equal(wanted, actual.value):
        return None
    help_line = {
        "score": f"scores are compared as published: rounded to {_rounding_text(program)}",
        "number": "measures are compared exactly; choose data that gives a short exact value",
        "credit": "a criterion's credit is on the 0-100 scale (a percent means the same number: 80% = 80)",
        "points": "a group, bonus or penalty is compared by the points it adds to its block",
    }.get(actual.kind)
    return Diagnostic("KPI096", f"{subject} is {show(actual.value, actual.kind)}, expected "
                      f"{show_cell(expect.value)}", expect.value.span, notes=where + actual.notes, help=help_line)


def lookup(program: Program, results: Results, expect: n.Expect) -> Actual:
    """The result an `expect` names (see the module docstring for the forms of its path)."""
    entity = "people" if expect.entity == "person" else "units"
    noun = "person" if entity == "people" else "unit"
    ident = _id_text(expect.id)
    parts = expect.path.parts
    rows = results.entities.get((entity, ident))
    measures = {m.name for m in program.measures.values() if m.entity == entity}
    scores = {s.name for s in program.scores.values() if s.entity == entity}
    rollups = {r.name for r in program.rollups.values() if r.entity == entity}
    if parts[0] in measures and len(parts) == 1:
        key = (entity, ident, parts[0])
        if key in results.measures:
            return Actual(results.measures[key], "number")
        if rows is None:
            return Actual(absent=f"there is no {noun} `{ident}` in the results")
        return Actual(absent=f"measure `{parts[0]}` was not computed for {noun} {ident}")
    if rows is None:
        known = sorted({i for (e, i) in results.entities if e == entity})
        return Actual(absent=f"there is no {noun} `{ident}` in the results",
                      notes=(f"{entity} in the results: {', '.join(known[:20]) or 'none'}",))
    if parts[0] in rollups:
        row = next((r for r in rows if r["score_name"] == parts[0]), None)
        if row is None:
            return Actual(absent=f"roll-up `{parts[0]}` has no result for {noun} {ident}")
        return _result(row, parts[1:] or ("score",), noun, ident)
    period_rows = [r for r in rows if r["score_name"] not in rollups]
    row = period_rows[0] if period_rows else None
    if parts[0] in scores:
        named = next((r for r in period_rows if r["score_name"] == parts[0]), None)
        if named is None:
            by = f"`{row['score_name']}`" if row is not None and row["score_name"] else "no score"
            return Actual(absent=f"{noun} {ident} is scored by {by}, not by `{parts[0]}`")
        row, parts = named, parts[1:] or ("score",)
    if row is None:
        return Actual(absent=f"{noun} {ident} has no period result")
    if parts[0] in ("score", "rating") and len(parts) == 1:
        return _result(row, parts, noun, ident)
    return _item(results, entity, ident, row, parts, noun)


def _result(row: dict[str, Any], parts: Sequence[str], noun: str, ident: str) -> Actual:
    status = row["status"]
    if status == "error":
        return Actual(absent=f"{noun} {ident} could not be scored: {row['reason'] or 'no reason recorded'}")
    if status == "not_scored":
        return Actual(absent=f"{noun} {ident} is not scored: no score's `where` holds for them")
    if parts[0] == "rating":
        return Actual(row["rating"], "level")
    return Actual(row["score"], "score")


def _item(results: Results, entity: str, ident: str, row: dict[str, Any], parts: Sequence[str],
          noun: str) -> Actual:
    if row["status"] in ("error", "not_scored"):
        return _result(row, parts, noun, ident)
    items = results.items.get((entity, ident, row["score_name"]), [])
    wanted = tuple(parts)
    found = [i for i in items if tuple(i["path"].split("."))[-len(wanted):] == wanted]
    if not found:
        return Actual(absent=f"`{'.'.join(parts)}` is not an item of score `{row['score_name']}` "
                             f"that scored {noun} {ident}")
    if len(found) > 1:
        paths = ", ".join(i["path"] for i in found)
        return Actual(absent=f"`{'.'.join(parts)}` names several items ({paths}); write the group too")
    item = found[0]
    if item["kind"] == "criterion":
        return Actual(item["credit"], "credit", notes=(f"its value is {show(item['value'], 'number')}",))
    return Actual(item["contribution"], "points")


# ---------------------------------------------------------------- values

_HUNDRED_SCALE = ("score", "points", "credit")


def expected_value(cell: n.Node, kind: str) -> Any:
    """The cell as the value it is compared with; a percent is a number on the 0-100 scale there."""
    if isinstance(cell, n.Num):
        if cell.unit == "percent" and kind in _HUNDRED_SCALE:
            return cell.value * 100
        return cell.value
    if isinstance(cell, n.NoneLit):
        return None
    if isinstance(cell, n.Name):
        return ".".join(cell.parts)
    return cell.value


def _equal(wanted: Any, actual: Any) -> bool:
    if wanted is None or actual is None:
        return wanted is None and actual is None
    number = _as_fraction(actual)
    if isinstance(wanted, bool):
        if isinstance(actual, bool):
            return wanted == actual
        return number is not None and number == int(wanted)
    if isinstance(wanted, Fraction):
        return number is not None and not isinstance(actual, bool) and number == wanted
    if isinstance(wanted, datetime.date):
        return isinstance(actual, datetime.date) and actual == wanted
    return isinstance(actual, str) and actual == wanted


def _as_fraction(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return Fraction(int(value))
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(decimal.Decimal(value.strip()))
        except (decimal.InvalidOperation, ValueError):
            return None
    return None  # a float never reaches here: results hold exact decimals


def show(value: Any, kind: str = "number") -> str:
    """A result value as a person would write it: 79.49, not 79.490000000000."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _as_fraction(value) if not isinstance(value, str) else None
    if number is not None:
        return fraction_text(number)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def fraction_text(value: Fraction) -> str:
    """Exact decimal text when there is one; else 12 places and `…`."""
    text = decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator) \
        if value.denominator != 1 else decimal.Decimal(value.numerator)
    exact = Fraction(text) == value
    if not exact:
        with decimal.localcontext() as ctx:
            ctx.prec = 40
            text = (decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)).quantize(
                decimal.Decimal(1).scaleb(-12))
    out = format(text.normalize(), "f") if text != 0 else "0"
    return out if exact else out + "…"


def show_cell(cell: n.Node) -> str:
    if isinstance(cell, n.Num):
        return cell.text or fraction_text(cell.value)
    if isinstance(cell, n.NoneLit):
        return "none (missing)"
    if isinstance(cell, n.Text):
        return f"\"{cell.value}\""
    if isinstance(cell, n.Name):
        return ".".join(cell.parts)
    if isinstance(cell, n.Bool):
        return "true" if cell.value else "false"
    if isinstance(cell, n.DateLit):
        return cell.value.isoformat()
    return "?"


def _id_text(cell: n.Node) -> str:
    value = cell_value(cell)
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, (datetime.date,)):
        return value.isoformat()
    return "" if value is None else str(value)


def _rounding_text(program: Program) -> str:
    r = program.rounding
    places, mode = (r.places, r.mode) if r is not None else (2, "half_up")
    return f"{places} places, {mode}"


# ---------------------------------------------------------------- diagnostics

def _subject(expect: n.Expect) -> str:
    return f"{expect.entity} {_id_text(expect.id)} {'.'.join(expect.path.parts)}"


def _head(node: n.Node) -> Any:
    """The first line of a block, for a caret that does not run over many lines."""
    span = node.span
    end = span.source.text.find("\n", span.start, span.end)
    return span.source.span(span.start, end if end >= 0 else span.end)


def _cannot_run(test: n.Test, why: str, notes: tuple[str, ...] = ()) -> Diagnostic:
    return Diagnostic("KPI096", f"test \"{test.label}\" could not run: {why}", _head(test), notes=notes,
                      help="fix what is listed, then run the tests again")


def _expected_error_missing(test: n.Test, item: n.ExpectError, found: Sequence[str]) -> Diagnostic:
    if found:
        notes = tuple(f"error: {m}" for m in found[:10])
        return Diagnostic("KPI096", f"no error contains \"{item.message}\"", item.span, notes=notes,
                          help="the errors found are listed above; expect a part of one of them")
    return Diagnostic("KPI096", f"expected an error containing \"{item.message}\", but the data was scored "
                      "without one", item.span, help="remove the `expect error`, or change the data so it fails")


def _path_problem(path: str, message: str, help_line: str) -> Diagnostic:
    from kpidsl.source import unknown_span

    return Diagnostic("KPI010", message, unknown_span(path), help=help_line)


def _is_below(path: str, folder: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


__all__ = ["Results", "ScoringError", "TestOutcome", "TestRun", "compare", "engine_scorer", "given_tables",
           "lookup", "run_paths", "run_program", "run_test", "test_period"]
