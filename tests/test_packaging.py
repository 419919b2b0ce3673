"""The wheel carries the grammar, and an installed kpidsl parses without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# Run with only the unpacked wheel providing `kpidsl`: the source tree (which an
# editable install puts on sys.path) is removed before the import.
PROBE = textwrap.dedent("""
    import os, sys
    root = os.path.realpath(sys.argv[1])
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]
    import kpidsl, kpidsl.syntax.parser
    from kpidsl.source import SourceFile
    print(kpidsl.__file__)
    print(kpidsl.syntax.parser.grammar_text() == open(sys.argv[2], encoding="utf-8").read())
    parsed = kpidsl.syntax.parser.parse_source(SourceFile("small.kpi", open("small.kpi", encoding="utf-8").read()))
    print(parsed.tree is not None, len(parsed.diagnostics))
""")

SMALL = """\
framework small "Nhỏ" version "2025.07" effective 2025-07-01 period quarter
scale percent = linear 0 -> 0, 1 -> 100 clamp
score staff "Cá nhân" for people {
  criterion general "Tiêu chí chung" points 100 = 1 scored percent
}
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built with the hatchling already installed: no network, no build isolation."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [built] = out.glob("kpidsl-*.whl")
    return built


def test_wheel_contains_the_grammar_and_the_entry_point(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "kpidsl/grammar/kpidsl.lark" in names
        assert zf.read("kpidsl/grammar/kpidsl.lark") == (ROOT / "grammar" / "kpidsl.lark").read_bytes()
        assert {"kpidsl/__init__.py", "kpidsl/__main__.py", "kpidsl/cli.py", "kpidsl/check/__init__.py"} <= names
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "kpidsl = kpidsl.cli:main" in zf.read(entry_points).decode()
        assert not [n for n in names if n.startswith(("tests/", "frameworks/")) or "__pycache__" in n]


def test_installed_package_finds_its_grammar(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    (work / "small.kpi").write_text(SMALL, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(site), "KPIDSL_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), str(ROOT / "grammar" / "kpidsl.lark")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    location, same_grammar, parsed = proc.stdout.splitlines()
    assert Path(location).is_relative_to(site)
    assert same_grammar == "True"
    assert parsed == "True 0"
    # The parse tables were cached where KPIDSL_CACHE_DIR says.
    assert list((tmp_path / "cache").glob("grammar-*.lark.cache"))
