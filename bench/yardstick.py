"""Runs the yardstick (bench/yardstick.sql): the central frame scored and its inputs validated in plain DuckDB SQL.

    python bench/yardstick.py --data bench/data/run-100000p-30t-s1 --period 2025-Q3 --out OUT [--times]

Reads `<input>.parquet` for tasks, people, units and unit_reports from --data; checks each file's schema
against the one bench/gen_data.py writes (metadata only: the column types prove each value's type); runs
the SQL statement by statement; then either writes OUT/people.parquet and OUT/units.parquet (id, unit or
parent, score_name, status, score, rating; sorted by id) and exits 0, or lists the problems found and exits
2 without writing, as `kpidsl run` does. DuckDB runs with its default settings. Nothing of kpidsl is
imported: this process is the hand-written side of the comparison. With --times, the seconds each step
took are printed as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SQL_FILE = HERE / "yardstick.sql"
INPUTS = ("tasks", "people", "units", "unit_reports")
EXIT_OK, EXIT_PROBLEMS = 0, 2

TEXT, DATE, BOOL, INTEGER, CENTS = "text", "date", "bool", "integer", "cents"
# The schema of bench/gen_data.py's Parquet files, by the kind of values each column must hold.
SCHEMA: dict[str, dict[str, str]] = {
    "tasks": {"task_id": TEXT, "person_id": TEXT, "kind": TEXT, "coefficient": CENTS, "due": DATE,
              "finished": DATE, "errors": INTEGER, "delays": INTEGER, "waived": BOOL},
    "people": {"person_id": TEXT, "unit_id": TEXT, "role": TEXT, "general_points": CENTS, "disciplined": BOOL,
               "organising": TEXT, "cohesion": TEXT},
    "units": {"unit_id": TEXT, "name": TEXT, "parent_id": TEXT},
    "unit_reports": {"report_id": TEXT, "unit_id": TEXT, "reported": DATE, "plan_items": INTEGER,
                     "plan_done": INTEGER, "budget_plan": CENTS, "budget_spent": CENTS, "reform_index": CENTS},
}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT"}


@dataclass
class Outcome:
    """What a run of the yardstick found: problems as (input, kind, count), and the seconds of each step."""

    problems: list[tuple[str, str, int]] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)


def column_fits(kind: str, duck_type: str) -> bool:
    """Whether every value of a column of this DuckDB type is a valid value of the field's type."""
    t = duck_type.upper()
    if kind == TEXT:
        return t == "VARCHAR"
    if kind == DATE:
        return t == "DATE"
    if kind == BOOL:
        return t == "BOOLEAN"
    if kind == INTEGER:
        return t in _INTEGERS
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", t.replace(" ", ""))
    # A number in hundredths below 10^18 fits a BIGINT, and so does four times it.
    return decimal is not None and int(decimal.group(1)) - int(decimal.group(2)) <= 16 and int(decimal.group(2)) <= 2


def check_schema(con, files: dict[str, Path]) -> list[tuple[str, str, int]]:
    """Problems with the files themselves: missing, unreadable, a column missing or of another type."""
    import duckdb

    problems = []
    for name, path in files.items():
        if not path.is_file():
            problems.append((name, "missing_file", 1))
            continue
        try:
            described = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                         "read_parquet($p))", {"p": str(path)}).fetchall())
        except duckdb.Error:
            problems.append((name, "unreadable_file", 1))
            continue
        for column, kind in SCHEMA[name].items():
            if column not in described:
                problems.append((name, "missing_column", 1))
            elif not column_fits(kind, described[column]):
                problems.append((name, "wrong_type", 1))
    return problems


def sections(text: str) -> list[tuple[str, str, list[str]]]:
    """The SQL file as (step|detail, name, statements), in order."""
    out: list[tuple[str, str, list[str]]] = []
    for part in re.split(r"^-- (?=(?:step|detail): )", text, flags=re.M)[1:]:
        header, _, body = part.partition("\n")
        kind, _, name = header.partition(": ")
        statements = [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if _code(s)]
        out.append((kind, name.strip(), statements))
    return out


def _code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def _params(statement: str, params: dict) -> dict:
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", statement)}


def period_bounds(label: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of a period written 2025, 2025-Q3 or 2025-07."""
    m = re.fullmatch(r"(\d{4})(?:-Q([1-4])|-(\d{2}))?", label)
    if m is None or (m.group(3) and not 1 <= int(m.group(3)) <= 12):
        raise ValueError(f"not a period: {label!r} (2025, 2025-Q3 or 2025-07)")
    year = int(m.group(1))
    first, months = (1, 12) if not (m.group(2) or m.group(3)) else \
        ((int(m.group(2)) - 1) * 3 + 1, 3) if m.group(2) else (int(m.group(3)), 1)
    start = datetime.date(year, first, 1)
    after = datetime.date(year + (first + months - 1) // 12, (first + months - 1) % 12 + 1, 1)
    return start, after - datetime.timedelta(days=1)


def run(data: Path, period: str, out: Path | None, threads: int | None = None) -> Outcome:
    """Validate and score; write the results into `out` (when given) only if no problem was found."""
    import duckdb

    start, end = period_bounds(period)
    files = {name: data / f"{name}.parquet" for name in INPUTS}
    outcome = Outcome()
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        clock = time.perf_counter()
        outcome.problems = check_schema(con, files)
        outcome.times["schema"] = time.perf_counter() - clock
        if outcome.problems:
            return outcome
        params = {name: str(path) for name, path in files.items()}
        params.update(period_start=start, period_end=end)
        parts = sections(SQL_FILE.read_text(encoding="utf-8"))
        details = {name: statements for kind, name, statements in parts if kind == "detail"}
        for kind, name, statements in parts:
            if kind != "step":
                continue
            clock = time.perf_counter()
            for statement in statements:
                con.execute(statement, _params(statement, params))
            outcome.times[name] = time.perf_counter() - clock
        found = con.execute("SELECT input, kind, n FROM checks ORDER BY input, kind").fetchall()
        if found:
            outcome.problems = _confirm(con, found, details, params)
        if outcome.problems or out is None:
            return outcome
        clock = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        for table, file in (("people_results", "people.parquet"), ("unit_results", "units.parquet")):
            con.sql(f"SELECT * FROM {table} ORDER BY id").write_parquet(str(out / file), compression="zstd")
        outcome.times["write"] = time.perf_counter() - clock
    finally:
        con.close()
    return outcome


def _confirm(con, found: list[tuple[str, str, int]], details: dict[str, list[str]],
             params: dict) -> list[tuple[str, str, int]]:
    """Sort the aggregation's row problems into kinds and compare repeated key hashes exactly."""
    problems: dict[tuple[str, str], int] = {}
    repeated = {input_ for input_, kind, _ in found if kind == "hash repeated"}
    for input_, kind, n in found:
        if kind not in ("row problems", "hash repeated"):
            problems[(input_, kind)] = problems.get((input_, kind), 0) + int(n)
    if any(kind == "row problems" for _, kind, _ in found):
        (statement,) = details["task_rows"]
        for kind, n in con.execute(statement, _params(statement, params)).fetchall():
            problems[("tasks", kind)] = problems.get(("tasks", kind), 0) + int(n)
    if repeated:
        (statement,) = details["duplicates"]
        flags = {f"check_{name}": name in repeated for name in INPUTS}
        for input_, kind, n in con.execute(statement, _params(statement, {**params, **flags})).fetchall():
            problems[(input_, kind)] = problems.get((input_, kind), 0) + int(n)
    return [(i, k, n) for (i, k), n in sorted(problems.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of tasks/people/units/unit_reports.parquet")
    parser.add_argument("--period", required=True, help="2025-Q3, 2025-07 or 2025")
    parser.add_argument("--out", type=Path, required=True, help="folder for people.parquet and units.parquet")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's own)")
    parser.add_argument("--times", action="store_true", help="print each step's seconds as JSON on stdout")
    args = parser.parse_args(argv)
    try:
        outcome = run(args.data, args.period, args.out, args.threads)
    except ValueError as err:
        parser.error(str(err))
    if args.times:
        print(json.dumps({k: round(v, 4) for k, v in outcome.times.items()}))
    if outcome.problems:
        for input_, kind, n in outcome.problems:
            print(f"yardstick: {input_}: {kind} ({n})", file=sys.stderr)
        print("yardstick: the data has problems; nothing was written", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
