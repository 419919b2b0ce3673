"""The one-pass parse (kpidsl/syntax/inline.py) gives exactly what the tree way gives: nodes, every span
(spans take no part in node equality, so they are compared here), comments and diagnostics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CASES, ROOT
from kpidsl.fmt import format_framework
from kpidsl.source import SourceFile, Span
from kpidsl.syntax.inline import _inline, parse_and_lower
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import MAX_TREE_DEPTH, decode, parse_source
from strategies import frameworks

FILES = sorted({*CASES.rglob("*.kpi"), *(ROOT / "frameworks").rglob("*.kpi"), *(ROOT / "examples").rglob("*.kpi")})


def difference(a: object, b: object, path: str = "") -> str | None:
    """Where A and B differ, spans and fields outside equality included; None when they are the same."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} against {type(b).__name__}"
    if isinstance(a, Span):
        assert isinstance(b, Span)
        left = (a.source.path, a.start, a.end, a.line, a.column, a.end_line, a.end_column)
        right = (b.source.path, b.start, b.end, b.line, b.column, b.end_line, b.end_column)
        return None if left == right else f"{path}: span {left} against {right}"
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            found = difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
            if found:
                return found
        return None
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list))
        if len(a) != len(b):
            return f"{path}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            found = difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} against {b!r}"


def assert_same(source: SourceFile) -> None:
    found = difference(parse_and_lower(source), lower(parse_source(source)))
    assert found is None, found


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_framework_file_gives_the_same_ast_and_diagnostics(path: Path):
    source, problem = decode(str(path), path.read_bytes())
    if problem is None:
        assert_same(source)


def test_a_well_formed_file_is_parsed_in_one_pass():
    """Without this, a one-pass parse that always fell back to the tree way would pass every other test."""
    path = ROOT / "frameworks" / "central" / "central.kpi"
    source, _ = decode(str(path), path.read_bytes())
    framework, diagnostics = _inline(source)
    assert framework is not None and not diagnostics
    assert difference((framework, diagnostics), lower(parse_source(source))) is None


def test_a_tree_nested_too_deep_is_refused_as_before():
    text = 'framework t "T"\nmeasure m for people = ' + "not " * (MAX_TREE_DEPTH + 5) + "x\n"
    source = SourceFile("deep.kpi", text)
    framework, diagnostics = parse_and_lower(source)
    assert framework is None and [d.code for d in diagnostics] == ["KPI008"]
    assert_same(source)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(frameworks)
def test_generated_frameworks_give_the_same_ast(fw):
    assert_same(SourceFile("<generated>", format_framework(fw)))


@SETTINGS
@given(frameworks, st.data())
def test_cut_or_spliced_frameworks_give_the_same_diagnostics(fw, data):
    """Text cut anywhere, or with a piece moved, ends in a syntax error or a lowering finding at some point."""
    text = format_framework(fw)
    cut = data.draw(st.integers(0, len(text)))
    piece = data.draw(st.integers(cut, len(text)))
    assert_same(SourceFile("<cut>", text[:cut]))
    assert_same(SourceFile("<spliced>", text[:cut] + text[piece:] + text[cut:piece]))


def test_the_kept_tables_are_rebuilt_when_unreadable(tmp_path, monkeypatch):
    import kpidsl.syntax.inline as inline

    monkeypatch.setenv("KPIDSL_CACHE_DIR", str(tmp_path))
    tmp_path.chmod(0o700)
    inline._tables.cache_clear()
    try:
        inline._tables()
        [kept] = tmp_path.glob("inline-*.pickle")
        kept.write_bytes(b"not a pickle")
        inline._tables.cache_clear()
        path = ROOT / "frameworks" / "central" / "central.kpi"
        source, _ = decode(str(path), path.read_bytes())
        assert difference(_inline(source), lower(parse_source(source))) is None
        assert kept.read_bytes() != b"not a pickle"
    finally:
        inline._tables.cache_clear()
