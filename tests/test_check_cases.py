"""Golden cases for `kpidsl check`: tests/cases/check/<case>/main.kpi against expected.out.

expected.out holds the exact human-readable output (no colour) for main.kpi,
checked from inside the case folder so paths read `main.kpi:3:5`. Other
.kpi files in the folder are there for `use` and `extends`.
"""

from __future__ import annotations

import pytest

from conftest import CASES, compare_golden
from kpidsl.diagnostics import render_human
from kpidsl.pipeline import check_paths

CHECK_CASES = sorted(p for p in (CASES / "check").iterdir() if (p / "main.kpi").exists())


@pytest.mark.parametrize("case", CHECK_CASES, ids=[p.name for p in CHECK_CASES])
def test_check_case(case, in_dir):
    in_dir(case)
    report = check_paths(["main.kpi"])
    actual = "".join(render_human(d) + "\n" for d in report.diagnostics)
    compare_golden(actual, case / "expected.out")
