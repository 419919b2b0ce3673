"""A large set checked in two halves (kpidsl/check_split.py) gives exactly the findings of one process."""

from __future__ import annotations

import os
import sys

import pytest

import kpidsl.check_split as split
from conftest import CASES, ROOT
from kpidsl.diagnostics import render_human
from kpidsl.pipeline import check_paths

sys.path.insert(0, str(ROOT / "bench"))

from gen_frameworks import generate  # noqa: E402 - after the path above


def _rendered(paths: list[str]) -> list[str]:
    report = check_paths(paths)
    return [render_human(d) for d in report.diagnostics] + [f"{report.errors} {report.warnings} {report.files}"]


@pytest.mark.parametrize("which", ["generated", "check cases"])
def test_two_halves_find_what_one_process_finds(which, tmp_path, monkeypatch):
    folder = CASES / "check"
    if which == "generated":
        folder = tmp_path / "frameworks"
        generate(folder, criteria=200, files=6)
        # a finding in the central frame, which every half reads, and one in a unit frame
        central = folder / "central.kpi"
        central.write_text(central.read_text(encoding="utf-8") + "\nmeasure unused for people = 1\n",
                           encoding="utf-8")
        unit = sorted((folder / "units").glob("*.kpi"))[-1]
        unit.write_text(unit.read_text(encoding="utf-8").replace("scored", "scored nowhere", 1), encoding="utf-8")
    paths = [str(folder)]
    monkeypatch.setattr(split, "_cores", lambda: 1)
    alone = _rendered(paths)
    monkeypatch.setattr(split, "_cores", lambda: 2)
    monkeypatch.setattr(split, "MIN_SPLIT_BYTES", 0)
    assert split._halves([str(p) for p in folder.rglob("*.kpi")]) is not None
    assert _rendered(paths) == alone
    assert len(alone) > 2


def test_a_child_that_fails_is_answered_here(monkeypatch):
    monkeypatch.setattr(split, "_cores", lambda: 2)
    monkeypatch.setattr(split, "MIN_SPLIT_BYTES", 0)
    parent = os.getpid()

    def check_one(path: str):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return [], [path]

    files = [f"f{i}.kpi" for i in range(6)]
    assert split.check_all(files, check_one) == [([], [f]) for f in files]


def test_small_sets_are_not_split(monkeypatch):
    monkeypatch.setattr(split, "_cores", lambda: 2)
    files = [str(p) for p in (ROOT / "frameworks").rglob("*.kpi")]
    assert split._halves(files) is None
