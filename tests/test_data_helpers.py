"""Helpers shared by the data tests: a framework on disk, its Program, and loading data with it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kpidsl.data.problems import DataLoad
from kpidsl.data.sources import DataSource, open_source
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period
from kpidsl.semantic.resolve import Loader, Program, resolve

DEMO = """\
framework demo "Demo"
  period quarter
input units key unit_id { unit_id: text  parent_id: ref units? }
input people key person_id {
  person_id: text  unit_id: ref units  role: staff | deputy | head
  general_points: number between 0 and 30  disciplined: bool = false
}
input tasks key task_id period by due {
  task_id: text  person_id: ref people  coefficient: number > 0 = 1  due: date  finished: date?
  errors: integer >= 0 = 0
}
units from units parent parent_id
people from people member of unit_id leader when role in [deputy, head]
"""

UNITS = "unit_id,parent_id\nu1,\nu2,u1\n"
PEOPLE = "person_id,unit_id,role,general_points,disciplined\np1,u1,head,25,no\np2,u2,staff,20.5,\n"
TASKS = ("task_id,person_id,coefficient,due,finished,errors\n"
         "t1,p1,1.5,2025-07-01,2025-07-02,0\n"
         "t2,p2,,2025-09-30,,1\n")


def program(tmp_path: Path, text: str = DEMO) -> Program:
    path = tmp_path / "framework.kpi"
    path.write_text(text, encoding="utf-8")
    prog, diags = resolve(str(path), Loader())
    assert prog is not None and not [d for d in diags if d.is_error], diags
    return prog


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load(prog: Program, source: DataSource | Path, period: str = "2025-Q3", reject: bool = False,
         con=None, cap: int = 20) -> tuple[DataLoad, duckdb.DuckDBPyConnection]:
    con = con or duckdb.connect()
    if not isinstance(source, DataSource):
        source = open_source(str(source))
    return load_and_validate(con, prog, source, parse_period(period), reject_invalid=reject, cap=cap), con


def kinds(result: DataLoad) -> dict[str, int]:
    return dict(result.problem_counts)


def rows(con, table: str, columns: str = "*") -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM {table} ORDER BY _row").fetchall()


def balanced(result: DataLoad) -> bool:
    return all(c.read == c.used + c.rejected + c.outside_period for c in result.counts.values())
