"""Golden cases for parse + lower: tests/cases/lower/<case>.kpi against <case>.ast.

The .ast file is the AST dump (tests/astdump.py) with each node's line:column,
so it pins both the structure lowering builds and the span each node carries.
"""

from __future__ import annotations

import pytest

from astdump import dump
from conftest import CASES, compare_golden
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import decode, parse_source

LOWER_CASES = sorted((CASES / "lower").glob("*.kpi"))


@pytest.mark.parametrize("case", LOWER_CASES, ids=[p.stem for p in LOWER_CASES])
def test_lower_case(case):
    source, problem = decode(case.name, case.read_bytes())
    assert problem is None
    framework, diags = lower(parse_source(source))
    assert not diags, [d.message for d in diags]
    compare_golden(dump(framework) + "\n", case.with_suffix(".ast"))
