"""The benchmark's framework generator: deterministic, the criteria asked for, and clean under --strict."""

from __future__ import annotations

import sys
from pathlib import Path

from kpidsl.pipeline import check_paths
from kpidsl.semantic.resolve import Loader, resolve
from kpidsl.syntax import nodes as n

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

from gen_frameworks import generate  # noqa: E402 - after the path above


def _criteria(items) -> int:
    count = 0
    for item in items:
        if isinstance(item, n.Criterion):
            count += 1
        elif isinstance(item, n.Group):
            count += _criteria(item.items)
    return count


def test_generated_set(tmp_path):
    out = tmp_path / "frameworks"
    written = generate(out, criteria=107, files=4)
    again = {p: p.read_bytes() for p in written}
    generate(out, criteria=107, files=4)
    assert {p: p.read_bytes() for p in written} == again

    assert [p.relative_to(out).as_posix() for p in written] == [
        "central.kpi", "units/unit_000.kpi", "units/unit_001.kpi", "units/unit_002.kpi", "units/unit_003.kpi"]
    report = check_paths([str(out), str(tmp_path / "small.kpi")], strict=True)
    assert [f"{d.code} {d.span.file}:{d.span.line} {d.message}" for d in report.diagnostics] == []

    # The criteria written in the set: the central frame's, plus each unit's functional group.
    central, _ = resolve(str(out / "central.kpi"), Loader())
    total = sum(_criteria(s.items) for s in central.scores.values())
    for unit in written[1:]:
        program, _ = resolve(str(unit), Loader())
        functional = next(i for i in program.scores["unit_kpi"].items if getattr(i, "name", "") == "functional")
        total += _criteria(functional.items)
    assert total == 107
