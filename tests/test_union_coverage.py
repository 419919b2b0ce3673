"""Every member of the AST's unions is handled by every stage that must handle it.

Adding a scale kind to `nodes.ScaleBody` fails `test_every_scale_kind_has_an_example` until it
gets an example here; the example then goes through the checker, the compiler, a run, the
evidence of the outputs and the formatter. The dispatch over the union in compile/scales.py and
output/tables.py is a `match` ending in `assert_never`, which mypy checks is exhaustive.
"""

from __future__ import annotations

import typing

import pytest

from kpidsl.fmt import format_text
from kpidsl.output.tables import _scale_info
from kpidsl.pipeline import check_file
from kpidsl.scoring import run_in_memory
from kpidsl.semantic.resolve import Loader
from kpidsl.syntax import nodes as n

HEAD = """framework cases.scales "Scales" version "1" period quarter

input units key unit_id {
  unit_id: text
}

input people key person_id {
  person_id: text
  unit_id: ref units
  x: number
  grade: low | high
  ok: bool
}

units from units
people from people member of unit_id

score staff "Staff" for people {
  criterion c "C" points 100 = VALUE scored SCALE
}
"""

# Each kind of scale, the value it scores, and the credit p1 (x = 7, grade high, ok) gets.
SCALE_EXAMPLES: dict[type, tuple[str, str, int]] = {
    n.Linear: ("linear 0 -> 0, 10 -> 100 clamp", "x", 70),
    n.Bands: ("bands { >= 5 -> 100  else -> 0 }", "x", 100),
    n.Target: ("target 14 cap 120", "x", 50),
    n.Levels: ("levels { low -> 40  high -> 90 }", "grade", 90),
    n.PassFail: ("pass 100 fail 0", "ok", 100),
}

TABLES = {
    "units": (["unit_id"], [["u1"]]),
    "people": (["person_id", "unit_id", "x", "grade", "ok"], [["p1", "u1", "7", "high", "true"]]),
}


def test_every_scale_kind_has_an_example():
    assert set(SCALE_EXAMPLES) == set(typing.get_args(n.ScaleBody))


@pytest.mark.parametrize("kind", list(SCALE_EXAMPLES), ids=lambda k: k.__name__)
def test_every_scale_kind_is_checked_compiled_run_described_and_formatted(tmp_path, kind):
    scale, value, credit = SCALE_EXAMPLES[kind]
    text = HEAD.replace("VALUE", value).replace("SCALE", scale)
    path = tmp_path / "main.kpi"
    path.write_text(text, encoding="utf-8")
    program, diags = check_file(str(path), Loader())
    assert program is not None and not [d for d in diags if d.is_error], [d.message for d in diags]
    criterion = next(i for i in program.scores["staff"].items if isinstance(i, n.Criterion))
    assert isinstance(criterion.scale, kind)
    con, load = run_in_memory(program, TABLES, "2025-Q3")
    assert load.ok
    got = con.execute("SELECT credit FROM results.items WHERE id = 'p1' AND path = 'c'").fetchone()[0]
    assert got == credit
    info = _scale_info(program, criterion)
    assert info is not None and info["kind"] in ("linear", "bands", "target", "levels", "pass")
    formatted, problems = format_text(str(path), text)
    assert formatted is not None and not problems
    assert format_text(str(path), formatted)[0] == formatted
