"""Golden data cases: tests/cases/data/<case>/ holds framework.kpi, data/ (the SOURCE folder),
period.txt (`2025-Q3`, optionally followed by `reject-invalid`), expected.txt: the rendered
problems, then the row counts of each input, and counts.txt: the same row counts worked out by hand
from the data files (the reasoning in its `#` lines). KPIDSL_UPDATE_GOLDEN rewrites expected.txt,
never counts.txt: the rows read, used and rejected are a claim about correctness."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import CASES, compare_golden
from kpidsl.data.problems import DataLoad, render_problems
from kpidsl.data.sources import open_source
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period
from kpidsl.semantic.resolve import Loader, resolve

DATA_CASES = sorted(p for p in (CASES / "data").iterdir() if p.is_dir())


def report(load: DataLoad) -> str:
    lines = [render_problems(load) or "no problems\n", "counts:\n"]
    for c in load.counts.values():
        lines.append(f"  {c.input}: read {c.read}, used {c.used}, rejected {c.rejected}, "
                     f"outside the period {c.outside_period}\n")
    lines.append(f"ok: {'yes' if load.ok else 'no'}\n")
    return "".join(lines)


@pytest.mark.parametrize("case", DATA_CASES, ids=[p.name for p in DATA_CASES])
def test_data_case(case: Path):
    program, diags = resolve(str(case / "framework.kpi"), Loader())
    assert program is not None and not [d for d in diags if d.is_error]
    words = (case / "period.txt").read_text(encoding="utf-8").split()
    load = load_and_validate(duckdb.connect(), program, open_source(str(case / "data")), parse_period(words[0]),
                             reject_invalid="reject-invalid" in words[1:])
    compare_golden(report(load), case / "expected.txt")
    assert _counts(load) == _hand_counts(case)


def _counts(load: DataLoad) -> list[str]:
    return [f"{c.input}: read {c.read}, used {c.used}, rejected {c.rejected}, outside the period {c.outside_period}"
            for c in load.counts.values()]


def _hand_counts(case: Path) -> list[str]:
    lines = (case / "counts.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_there_are_enough_cases():
    assert len(DATA_CASES) >= 5
