"""Remembered check results: a hit gives the same findings, any change to a file it read misses."""

from __future__ import annotations

import os
from pathlib import Path

from kpidsl import check_cache
from kpidsl.diagnostics import render_human
from kpidsl.pipeline import check_paths

CENTRAL = """framework central "C"
scale percent = linear 0 -> 0, 1 -> 100 clamp
scale unused = pass 100 fail 0
"""
UNIT = """framework unit "U"
use "central.kpi"
extends central
scale other = pass 100 fail 0
"""


def rendered(report) -> list[str]:
    return [render_human(d) for d in report.diagnostics]


def test_a_hit_gives_the_same_findings_without_parsing(tmp_path, monkeypatch):
    (tmp_path / "central.kpi").write_text(CENTRAL, encoding="utf-8")
    (tmp_path / "unit.kpi").write_text(UNIT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    first = check_paths(["unit.kpi"], cache=True)
    assert first.diagnostics, "the unused scales are findings"

    import kpidsl.pipeline

    def no_parsing(*args, **kwargs):
        raise AssertionError("a hit must not check again")

    monkeypatch.setattr(kpidsl.pipeline, "check_file", no_parsing)
    second = check_paths(["unit.kpi"], cache=True)
    assert rendered(second) == rendered(first)


def test_a_change_to_a_used_file_misses(tmp_path, monkeypatch):
    (tmp_path / "central.kpi").write_text(CENTRAL, encoding="utf-8")
    (tmp_path / "unit.kpi").write_text(UNIT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = check_paths(["unit.kpi"], cache=True)
    assert not any(d.code == "KPI054" for d in before.diagnostics)
    broken = CENTRAL.replace("1 -> 100 clamp", "1 -> 100, 2 -> 50 clamp")
    (tmp_path / "central.kpi").write_text(broken, encoding="utf-8")
    after = check_paths(["unit.kpi"], cache=True)
    assert rendered(after) == rendered(check_paths(["unit.kpi"]))
    assert any(d.code == "KPI054" and d.span.file.endswith("central.kpi") for d in after.diagnostics)


def test_findings_about_missing_files_are_not_remembered(tmp_path, monkeypatch):
    (tmp_path / "unit.kpi").write_text(UNIT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert any(d.code == "KPI011" for d in check_paths(["unit.kpi"], cache=True).diagnostics)
    (tmp_path / "central.kpi").write_text(CENTRAL, encoding="utf-8")
    assert not any(d.code == "KPI011" for d in check_paths(["unit.kpi"], cache=True).diagnostics)


def test_a_corrupt_entry_is_a_miss(tmp_path, monkeypatch):
    (tmp_path / "central.kpi").write_text(CENTRAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    expected = rendered(check_paths(["central.kpi"], cache=True))
    folder = Path(os.environ["KPIDSL_CACHE_DIR"])
    entries = list(folder.glob("checks/*.json"))
    assert entries
    for entry in entries:
        entry.write_text("{not json", encoding="utf-8")
    assert check_cache.lookup(folder, "central.kpi") is None
    assert rendered(check_paths(["central.kpi"], cache=True)) == expected
