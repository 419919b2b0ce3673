"""Shared test helpers: golden case discovery and comparison."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).parent.parent

# Regenerate golden files with KPIDSL_UPDATE_GOLDEN=1, then review every diff by hand:
# a golden file states what a person decided is right, not what the code happens to print.
UPDATE = os.environ.get("KPIDSL_UPDATE_GOLDEN") == "1"


def compare_golden(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
        return
    if not expected_path.exists():
        pytest.fail(f"{expected_path} is missing; write the expected output by hand")
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.fixture
def in_dir(monkeypatch):
    def enter(path: Path) -> None:
        monkeypatch.chdir(path)
    return enter
