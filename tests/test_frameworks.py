"""The example frameworks in frameworks/: each parses, lowers, checks clean and is formatted."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT
from kpidsl.diagnostics import render_human
from kpidsl.pipeline import check_paths
from kpidsl.semantic.resolve import Loader, resolve
from kpidsl.source import SourceFile
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import parse_source

FRAMEWORKS = ROOT / "frameworks"
FILES = sorted(FRAMEWORKS.rglob("*.kpi"))
IDS = [str(p.relative_to(FRAMEWORKS)) for p in FILES]


def _shown(diags) -> str:
    return "\n".join(render_human(d) for d in diags)


def test_the_example_frameworks_exist():
    # A central frame and at least two unit frames that extend it.
    names = {str(p.relative_to(FRAMEWORKS)) for p in FILES}
    assert "central/central.kpi" in names
    assert len([p for p in names if p.startswith("units/")]) >= 2


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_parses_and_lowers(path):
    source = SourceFile(str(path), path.read_text(encoding="utf-8"))
    parsed = parse_source(source)
    assert parsed.tree is not None, _shown(parsed.diagnostics)
    framework, diags = lower(parsed)
    assert framework is not None and not diags, _shown(diags)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_checks_clean_with_strict(path, in_dir):
    in_dir(FRAMEWORKS)
    report = check_paths([str(path.relative_to(FRAMEWORKS))], strict=True)
    assert report.diagnostics == (), _shown(report.diagnostics)


def test_the_whole_folder_checks_clean(in_dir):
    in_dir(ROOT)
    report = check_paths(["frameworks"], strict=True)
    assert len(report.files) == len(FILES)
    assert report.diagnostics == (), _shown(report.diagnostics)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_is_formatted(path):
    if importlib.util.find_spec("kpidsl.fmt") is None:
        pytest.skip("kpidsl.fmt (the formatter) is not part of the package yet")
    from kpidsl.fmt import format_text

    text = path.read_text(encoding="utf-8")
    formatted, diags = format_text(str(path), text)
    assert formatted is not None, _shown(diags)
    assert formatted == text, f"{path} is not formatted: run `kpidsl fmt {path}`"


def _program(path):
    program, diags = resolve(str(path), Loader())
    assert program is not None, _shown(diags)
    return program


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_has_tests_each_with_expectations(path):
    program = _program(path)
    assert program.tests, f"{path} has no test block"
    for test in program.tests:
        expects = [i for i in test.items if isinstance(i, (n.Expect, n.ExpectError))]
        assert expects, f"test {test.label!r} in {path} expects nothing"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_given_columns_are_fields_of_their_input(path):
    program = _program(path)
    for test in program.tests:
        for given in (i for i in test.items if isinstance(i, n.Given)):
            table = program.inputs.get(given.input)
            assert table is not None, f"test {test.label!r}: no input `{given.input}`"
            fields = {f.name for f in table.fields}
            unknown = [c for c in given.columns if c not in fields]
            assert not unknown, f"test {test.label!r}: `{given.input}` has no column {unknown}"
            # Every column without a default and not optional must be given.
            required = {f.name for f in table.fields if f.default is None and not f.type.optional}
            assert required <= set(given.columns), (
                f"test {test.label!r}: `{given.input}` lacks {sorted(required - set(given.columns))}")
            assert all(len(row.cells) == len(given.columns) for row in given.rows)


def test_unit_frames_extend_the_central_frame():
    for path in FILES:
        if "units" not in path.parts:
            continue
        program = _program(path)
        extends = [d.target for d in program.root.decls if isinstance(d, n.Extends)]
        assert extends == ["central"], path
        # The unit frame changed the functional group and nothing locked.
        assert not [r for r in program.replacements if r.old_locked], path
        functional = next(i for i in program.scores["unit_kpi"].items
                          if isinstance(i, n.Group) and i.name == "functional")
        central = _program(FRAMEWORKS / "central" / "central.kpi").scores["unit_kpi"]
        assert functional != next(i for i in central.items if isinstance(i, n.Group) and i.name == "functional")
