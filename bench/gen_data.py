"""Writes a deterministic, valid data set for every input of a framework, at any size, generated in DuckDB SQL.

    python bench/gen_data.py --people 1000000 --tasks-per-person 30 --period 2025-Q3 \\
        --format parquet --out bench/data/q3 --seed 1 [--framework frameworks/central/central.kpi]

The inputs and their fields are read from the framework (so the data keeps in step
with it); each input becomes `<input>.csv` or `<input>.parquet` in the output folder.
- units form a tree (`units from units parent ...`): unit 0 is the root, each unit has
  up to six sub-units;
- people are spread evenly over the units (`member of ...`); the first person of a
  unit is its head, larger units have one or two deputies, the rest are staff;
- an input with a reference to people has `--tasks-per-person` rows per person;
  one with a reference to units has `--rows-per-unit` rows per unit (the
  `unit_reports` of the central frame: one);
- each field gets a value of its declared type, inside its bounds, from its enum,
  sometimes absent when optional; a few fields of the central frame get values that
  make sense together (an optional date such as a task's `finished` falls around the
  date that places the row, `delays` counts a late finish, `plan_done` is at most
  `plan_items`, leader criteria are given for leaders only).
Every row is computed from its row number, the period and the seed alone (DuckDB's
`hash`), so the same arguments write the same bytes, rows are never held in Python,
and 30 million rows stream straight to the file.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpidsl.period import Period, parse_period  # noqa: E402
from kpidsl.semantic.resolve import Program  # noqa: E402
from kpidsl.sql.quoting import ident  # noqa: E402
from kpidsl.syntax import nodes as n  # noqa: E402

DEFAULT_FRAMEWORK = ROOT / "frameworks" / "central" / "central.kpi"
BRANCHING = 6  # sub-units per unit
PEOPLE_PER_UNIT = 30
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Spec:
    """What to generate."""

    people: int
    tasks_per_person: int
    period: Period
    format: str
    out: Path
    seed: int = 1
    units: int | None = None
    rows_per_unit: int = 3
    framework: Path = DEFAULT_FRAMEWORK

    @property
    def unit_count(self) -> int:
        return self.units if self.units is not None else max(1, round(self.people / PEOPLE_PER_UNIT))


@dataclass
class Table:
    """One input's rows as a SELECT over `range(count)`: the SQL of each field, in order."""

    input: n.Input
    count: int
    prefix: str
    owner: str | None = None      # "people" | "units": whose rows these are
    per_owner: int = 1
    columns: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(str(max(self.count - 1, 0)))

    def key_of(self, index: str) -> str:
        """The key text of row `index` (an SQL integer): prefix and zero-padded number."""
        return f"($p_{self.input.name}_prefix || lpad(CAST({index} AS VARCHAR), {self.width}, '0'))"


class Gen:
    """Builds the SELECT of each input; every value in it is a bound parameter."""

    def __init__(self, program: Program, spec: Spec) -> None:
        self.p = program
        self.spec = spec
        self.params: dict[str, Any] = {
            "seed": spec.seed, "start": spec.period.start, "end": spec.period.end,
            "days": (spec.period.end - spec.period.start).days + 1,
            "n_people": spec.people, "n_units": spec.unit_count,
        }
        self.tables: dict[str, Table] = {}
        units_input = program.units.input if program.units else None
        people_input = program.people.input if program.people else None
        self.units_input, self.people_input = units_input, people_input
        for inp in program.inputs.values():
            self.tables[inp.name] = self._table(inp)
        for t in self.tables.values():
            self.params[f"p_{t.input.name}_prefix"] = t.prefix

    # ------------------------------------------------------------ row counts and owners
    def _table(self, inp: n.Input) -> Table:
        spec = self.spec
        if inp.name == self.units_input:
            return Table(inp, spec.unit_count, "u")
        if inp.name == self.people_input:
            return Table(inp, spec.people, "p")
        refs = [f.type.ref for f in inp.fields if f.type.base == "ref"]
        prefix = PREFIXES.get(inp.name, inp.name[:3] + "-")
        if self.people_input in refs:
            return Table(inp, spec.people * spec.tasks_per_person, prefix, "people", spec.tasks_per_person)
        rows = ROWS_PER_UNIT.get(inp.name, spec.rows_per_unit)
        if self.units_input in refs:
            return Table(inp, spec.unit_count * rows, prefix, "units", rows)
        return Table(inp, spec.unit_count * rows, prefix)

    # ------------------------------------------------------------ random numbers
    def u(self, table: Table, tag: str) -> str:
        """A uniform number in [0, 1) for this row, the same for the same seed, table, tag and row."""
        # The period takes part, so two quarters generated with one seed differ.
        salt = zlib.crc32(f"{self.spec.period.label}.{table.input.name}.{tag}".encode())
        return f"(hash(_i, {self.bind(f'salt_{salt}', salt)}, $seed) / 18446744073709551616.0)"

    def bind(self, name: str, value: Any) -> str:
        self.params[name] = value
        return f"${name}"

    # ------------------------------------------------------------ the SELECT of one input
    def select(self, name: str) -> str:
        t = self.tables[name]
        parts = []
        for f in t.input.fields:
            parts.append(f"{self.field_sql(t, f)} AS {ident(f.name)}")
        return f"SELECT {', '.join(parts)} FROM range({self.bind(f'count_{name}', t.count)}) AS g(_i)"

    def owner_index(self, t: Table) -> str:
        return f"(_i // {self.bind(f'per_{t.input.name}', t.per_owner)})"

    def field_sql(self, t: Table, f: n.Field) -> str:
        if f.name == t.input.key:
            return t.key_of("_i")
        hint = HINTS.get((t.input.name, f.name))
        if hint is not None:
            sql = hint(self, t, f)
            if sql is not None:
                return sql
        if f.type.base == "ref":
            return self.ref_sql(t, f)
        completion = completion_date(self, t, f)
        if completion is not None:
            return completion
        value = self.value_sql(t, f)
        if f.type.optional and f.default is None and f.name != t.input.period_by:
            return f"CASE WHEN {self.u(t, f.name + '?')} < 0.1 THEN NULL ELSE {value} END"
        return value

    def ref_sql(self, t: Table, f: n.Field) -> str:
        target = self.tables.get(f.type.ref or "")
        if target is None:
            return "NULL"
        if t.input.name == self.units_input and self.p.units is not None and f.name == self.p.units.parent:
            # A tree: unit i's parent is unit (i - 1) // BRANCHING; the root has none.
            branching = self.bind("branching", BRANCHING)
            return f"CASE WHEN _i = 0 THEN NULL ELSE {target.key_of(f'(_i - 1) // {branching}')} END"
        if t.input.name == self.people_input and self.p.people is not None and f.name == self.p.people.member_of:
            return target.key_of(UNIT_OF_PERSON)
        if t.owner is not None and target.input.name == (self.people_input if t.owner == "people"
                                                          else self.units_input):
            return target.key_of(self.owner_index(t))
        pick = f"CAST(floor({self.u(t, f.name)} * {self.bind(f'count_{target.input.name}', target.count)}) AS BIGINT)"
        ref = target.key_of(pick)
        if f.type.optional:
            return f"CASE WHEN {self.u(t, f.name + '?')} < 0.1 THEN NULL ELSE {ref} END"
        return ref

    def value_sql(self, t: Table, f: n.Field) -> str:
        base = f.type.base
        u = self.u(t, f.name)
        if base == "date":
            return f"CAST($start + CAST(floor({u} * $days) AS INTEGER) AS DATE)"
        if base == "bool":
            if isinstance(f.default, n.Bool):
                rare = self.bind("rare", 0.03)
                return f"({u} < {rare})" if not f.default.value else f"({u} >= {rare})"
            return f"({u} < 0.5)"
        if base == "enum":
            values = list(f.type.values)
            first = self.bind(f"enum_{t.input.name}_{f.name}_0", values[0])
            if len(values) == 1:
                return first
            rest = [self.bind(f"enum_{t.input.name}_{f.name}_{i}", v) for i, v in enumerate(values[1:], 1)]
            # The first value is the common one (planned work, the usual case); the rest share a quarter.
            pick = f"CAST(floor(({u} - 0.75) * 4 * {len(rest)}) AS INTEGER)"
            return f"CASE WHEN {u} < 0.75 THEN {first} ELSE list_extract([{', '.join(rest)}], {pick} + 1) END"
        if base in ("number", "integer"):
            return self.number_sql(t, f, u)
        return f"({self.bind(f'text_{t.input.name}_{f.name}', f.name + ' ')} || CAST(_i AS VARCHAR))"

    def number_sql(self, t: Table, f: n.Field, u: str) -> str:
        lo = hi = None
        lo_open = hi_open = False
        for b in f.type.bounds:
            if b.op in (">=", ">"):
                lo, lo_open = b.value.value, b.op == ">"
            elif b.op in ("<=", "<"):
                hi, hi_open = b.value.value, b.op == "<"
        integer = f.type.base == "integer"
        step = 1 if integer else 0.5
        if lo is not None and hi is not None:
            # Mostly in the upper part of the range: raters' points, indexes and reviews are usually good.
            low = float(lo) + (float(hi) - float(lo)) * 0.6 + (step if lo_open else 0)
            high = float(hi) - (step if hi_open else 0)
        elif lo is not None:
            low = float(lo) + (step if lo_open else 0)
            high = low + 10
        elif hi is not None:
            high = float(hi) - (step if hi_open else 0)
            low = high - 10
        else:
            low, high = 0.0, 100.0
        low_p = self.bind(f"lo_{t.input.name}_{f.name}", low)
        span_p = self.bind(f"span_{t.input.name}_{f.name}", max(high - low, 0.0))
        if integer:
            top = self.bind(f"hi_{t.input.name}_{f.name}", float(high))
            value = f"CAST(least(floor({top}), ceil({low_p}) + floor({u} * (floor({span_p}) + 1))) AS BIGINT)"
            if isinstance(f.default, n.Num) and f.default.value == 0 and lo == 0:
                # Counts of mishaps (errors, delays): mostly none.
                return f"CASE WHEN {u} < 0.85 THEN 0 ELSE CAST(1 + floor(({u} - 0.85) * 20) AS BIGINT) END"
            return value
        # Two decimals, rounded down so the upper bound is never passed.
        return f"CAST(floor(({low_p} + {u} * {span_p}) * 100) / 100 AS DECIMAL(18,2))"


# ---------------------------------------------------------------- what the central frame means

# People: row i belongs to unit (i * units) // people, so units get consecutive people.
UNIT_OF_PERSON = "((_i * $n_units) // $n_people)"
_FIRST_OF = "((({u}) * $n_people + $n_units - 1) // $n_units)"  # the first person of unit {u}

PREFIXES = {"tasks": "t", "unit_reports": "r"}
ROWS_PER_UNIT = {"unit_reports": 1}  # "one row per unit and period"

Hint = Callable[[Gen, Table, n.Field], "str | None"]


def _role(g: Gen, t: Table, f: n.Field) -> str | None:
    if f.type.base != "enum" or not {"staff", "deputy", "head"} <= set(f.type.values):
        return None
    unit = UNIT_OF_PERSON
    pos = f"(_i - {_FIRST_OF.format(u=unit)})"
    size = f"({_FIRST_OF.format(u=unit + ' + 1')} - {_FIRST_OF.format(u=unit)})"
    head, deputy, staff = (g.bind(f"role_{v}", v) for v in ("head", "deputy", "staff"))
    return (f"CASE WHEN {pos} = 0 THEN {head} "
            f"WHEN {pos} <= CAST({size} >= 6 AS INTEGER) + CAST({size} >= 15 AS INTEGER) THEN {deputy} "
            f"ELSE {staff} END")


def _leaders_only(g: Gen, t: Table, f: n.Field) -> str | None:
    # The leader criteria are assessed for deputies and heads only.
    if f.type.base != "enum" or not any(x.name == "role" for x in t.input.fields):
        return None
    value = g.value_sql(t, f)
    return f"CASE WHEN {ident('role')} = {g.bind('role_staff', 'staff')} THEN NULL ELSE {value} END"


def _coefficient(g: Gen, t: Table, f: n.Field) -> str | None:
    choices = g.bind("coefficients", ["0.5", "1", "1", "1", "1", "1.5", "2", "3"])
    return f"CAST(list_extract({choices}, CAST(floor({g.u(t, f.name)} * 8) AS INTEGER) + 1) AS DECIMAL(18,2))"


def completion_date(g: Gen, t: Table, f: n.Field) -> str | None:
    """An optional date next to the date that places the row (a task's `finished` by its `due`):
    mostly ten days before to five days after it; 8% not yet."""
    dated = t.input.period_by
    fields = [x.name for x in t.input.fields]
    if f.type.base != "date" or not f.type.optional or dated is None or dated not in fields \
            or fields.index(dated) > fields.index(f.name):
        return None
    return (f"CASE WHEN {g.u(t, f.name + ' open')} < 0.08 THEN NULL "
            f"ELSE CAST({ident(dated)} + CAST(floor({g.u(t, f.name + ' lag')} * 16) AS INTEGER) - 10 AS DATE) END")


def _delays(g: Gen, t: Table, f: n.Field) -> str | None:
    if not any(x.name == "finished" for x in t.input.fields):
        return None
    late = f"{ident('finished')} > {ident('due')}"
    return f"CASE WHEN {late} THEN CAST(1 + floor({g.u(t, f.name)} * 2) AS BIGINT) ELSE 0 END"


def _recommendations(g: Gen, t: Table, f: n.Field) -> str | None:
    return f"CAST(floor({g.u(t, f.name)} * 7) AS BIGINT)"


def _implemented(g: Gen, t: Table, f: n.Field) -> str | None:
    if not any(x.name == "recommendations" for x in t.input.fields):
        return None
    return f"CAST(floor({ident('recommendations')} * (0.4 + {g.u(t, f.name)} * 0.61)) AS BIGINT)"


def _period_end(g: Gen, t: Table, f: n.Field) -> str | None:
    return "CAST($end AS DATE)"


def _plan_items(g: Gen, t: Table, f: n.Field) -> str | None:
    return f"CAST(4 + floor({g.u(t, f.name)} * 20) AS BIGINT)"


def _plan_done(g: Gen, t: Table, f: n.Field) -> str | None:
    if not any(x.name == "plan_items" for x in t.input.fields):
        return None
    return f"CAST(greatest(0, {ident('plan_items')} - floor(pow({g.u(t, f.name)}, 3) * 6)) AS BIGINT)"


def _budget_plan(g: Gen, t: Table, f: n.Field) -> str | None:
    return f"CAST(100 * (5 + floor({g.u(t, f.name)} * 50)) AS DECIMAL(18,2))"


def _budget_spent(g: Gen, t: Table, f: n.Field) -> str | None:
    if not any(x.name == "budget_plan" for x in t.input.fields):
        return None
    share = f"(0.55 + {g.u(t, f.name)} * 0.47)"
    return f"CAST(floor({ident('budget_plan')} * {share}) AS DECIMAL(18,2))"


def _unit_name(g: Gen, t: Table, f: n.Field) -> str | None:
    root, unit = g.bind("root_name", "Cơ quan"), g.bind("unit_name", "Phòng ")
    return f"CASE WHEN _i = 0 THEN {root} ELSE {unit} || CAST(_i AS VARCHAR) END"


_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương"]
_MIDDLE = ["Văn", "Thị", "Minh", "Thu", "Đức", "Ngọc", "Quang", "Hữu"]
_GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Long", "Mai", "Nam",
          "Nga", "Phong", "Phương", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Yến"]


def _person_name(g: Gen, t: Table, f: n.Field) -> str | None:
    """Vietnamese full names, family + middle + given, the same for the same index."""
    family, middle, given = (g.bind(name, values) for name, values in
                             (("family_names", _FAMILY), ("middle_names", _MIDDLE), ("given_names", _GIVEN)))
    return (f"list_extract({family}, CAST(_i % {len(_FAMILY)} AS INTEGER) + 1) || ' ' || "
            f"list_extract({middle}, CAST((_i // {len(_FAMILY)}) % {len(_MIDDLE)} AS INTEGER) + 1) || ' ' || "
            f"list_extract({given}, CAST((_i * 7) % {len(_GIVEN)} AS INTEGER) + 1)")


HINTS: dict[tuple[str, str], Hint] = {
    ("units", "name"): _unit_name,
    ("people", "name"): _person_name,
    ("people", "role"): _role,
    ("people", "organising"): _leaders_only,
    ("people", "cohesion"): _leaders_only,
    ("tasks", "coefficient"): _coefficient,
    ("cases", "recommendations"): _recommendations,  # the input of the unit in docs/tutorial.md
    ("cases", "implemented"): _implemented,
    ("tasks", "delays"): _delays,
    ("unit_reports", "reported"): _period_end,
    ("unit_reports", "plan_items"): _plan_items,
    ("unit_reports", "plan_done"): _plan_done,
    ("unit_reports", "budget_plan"): _budget_plan,
    ("unit_reports", "budget_spent"): _budget_spent,
}


# ---------------------------------------------------------------- writing

def load_program(path: Path) -> Program:
    from kpidsl.pipeline import check_file

    program, diags = check_file(str(path))
    errors = [d for d in diags if d.is_error]
    if program is None or errors:
        raise SystemExit(f"{path}: the framework has errors; run `kpidsl check {path}`")
    return program


def generate(spec: Spec, program: Program | None = None) -> dict[str, Path]:
    """Write one file per input of the framework into spec.out; returns input -> file."""
    import duckdb

    if spec.format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    program = program or load_program(spec.framework)
    gen = Gen(program, spec)
    spec.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    written: dict[str, Path] = {}
    try:
        for name in program.inputs:
            query = gen.select(name)
            used = {k: v for k, v in gen.params.items() if f"${k}" in query}
            relation = con.sql(query, params=used)
            path = spec.out / f"{name}.{spec.format}"
            tmp = path.with_name(f".{path.name}.tmp")
            if spec.format == "csv":
                relation.write_csv(str(tmp), header=True)
            else:
                relation.write_parquet(str(tmp), compression="zstd")
            os.replace(tmp, path)
            written[name] = path
    finally:
        con.close()
    return written


def parse_args(argv: list[str] | None = None) -> Spec:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, required=True, help="number of people")
    parser.add_argument("--tasks-per-person", type=int, default=10,
                        help="rows per person of each input that refers to people (default 10)")
    parser.add_argument("--period", default="2025-Q3", help="the period the dates fall in (default 2025-Q3)")
    parser.add_argument("--format", choices=FORMATS, default="parquet")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--units", type=int, default=None,
                        help=f"number of units (default: one per {PEOPLE_PER_UNIT} people)")
    parser.add_argument("--rows-per-unit", type=int, default=3,
                        help="rows per unit of each input that refers to units (unit_reports: always 1)")
    parser.add_argument("--framework", type=Path, default=DEFAULT_FRAMEWORK,
                        help="the framework whose inputs are generated (default: the central frame)")
    args = parser.parse_args(argv)
    if args.people < 1 or args.tasks_per_person < 0 or args.rows_per_unit < 0:
        parser.error("--people must be at least 1; the row counts cannot be negative")
    if args.units is not None and not 1 <= args.units <= args.people:
        parser.error("--units must be between 1 and --people")
    if not 0 <= args.seed < 2 ** 63:
        parser.error("--seed must be a non-negative integer below 2^63")
    try:
        period = parse_period(args.period)
    except ValueError as err:
        parser.error(str(err))
    return Spec(args.people, args.tasks_per_person, period, args.format, args.out, args.seed, args.units,
                args.rows_per_unit, args.framework)


def main(argv: list[str] | None = None) -> int:
    spec = parse_args(argv)
    for _name, path in generate(spec).items():
        print(f"{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
