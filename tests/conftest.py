"""Shared test helpers: golden case discovery and comparison."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

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


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Tests never read or fill the user's cache of parse tables and check results."""
    folder = tmp_path_factory.mktemp("kpidsl-cache")
    folder.chmod(0o700)
    saved = os.environ.get("KPIDSL_CACHE_DIR")
    os.environ["KPIDSL_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("KPIDSL_CACHE_DIR", None)
    else:
        os.environ["KPIDSL_CACHE_DIR"] = saved


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _restore_gc_threshold():
    """The CLI tunes the garbage collector for its own short life; the test session keeps its own."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.fixture
def in_dir(monkeypatch):
    def enter(path: Path) -> None:
        monkeypatch.chdir(path)
    return enter
