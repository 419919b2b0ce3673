"""Tampered run folders read by `explain`: a message and exit 2, never an internal error.

A folder altered after its run is named as altered (the evidence is checked against
the manifest's hashes). A folder whose manifest was rewritten to match the altered
evidence ("forged") gets through that check, and must still be refused by what it
holds: JSON nested ten thousand deep, shapes no run writes, missing columns, NaN,
infinity or text where a number belongs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from kpidsl import cli
from results_fixture import write_inputs

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("explained")
    write_inputs(base)
    result = CliRunner().invoke(cli.main, ["run", str(base / "fx.kpi"), "--data", str(base / "data"),
                                           "--period", "2025-Q3", "--out", str(base / "out")])
    assert result.exit_code == 0, result.output
    return base / "out"


@pytest.fixture
def folder(run_folder, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    return copy


def explain(folder: Path):
    result = CliRunner().invoke(cli.main, ["explain", str(folder), "--id", "p1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    return result


def forge(folder: Path, name: str) -> None:
    """Rewrite the manifest so that `name` matches it again, as a careful tamperer would."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    data = (folder / name).read_bytes()
    for entry in manifest["outputs"]:
        if entry["name"] == name:
            entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def rewrite_parquet(folder: Path, table: str, select: str) -> None:
    path = folder / "evidence" / f"{table}.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT {select} FROM read_parquet($p)) TO $q (FORMAT parquet)",
                    {"p": str(path), "q": str(path) + ".new"})
    Path(str(path) + ".new").replace(path)


def test_the_untouched_folder_is_explained(folder):
    assert explain(folder).exit_code == 0


# ---------------------------------------------------------------- altered: found by the hashes

def test_an_altered_evidence_file_is_named(folder):
    rewrite_parquet(folder, "entities", "* REPLACE (CASE WHEN id = 'p1' THEN 99.99 ELSE score END AS score)")
    result = explain(folder)
    assert result.exit_code == 2
    assert result.stderr == (f"kpidsl: {folder} was altered after the run: evidence/entities.parquet (changed) "
                             "does not match its manifest\n  help: what no longer matches the run is not "
                             "explained; run `kpidsl run` again to rebuild the folder\n")


def test_a_missing_or_added_evidence_file_is_named(folder):
    (folder / "evidence" / "measures.parquet").unlink()
    shutil.copy(folder / "evidence" / "quota.parquet", folder / "evidence" / "more.parquet")
    result = explain(folder)
    assert result.exit_code == 2
    assert ("evidence/measures.parquet (missing), evidence/more.parquet (added) do not match its manifest"
            in result.stderr)


# ---------------------------------------------------------------- forged: found by what they hold

@pytest.mark.parametrize(("name", "text"), [
    ("deep-json", DEEP),
    ("not-an-object", "[1, 2, 3]"),
    ("wrong-shapes", json.dumps({"version": 1, "scores": 5, "rounding": {"places": "two"}})),
    ("items-not-a-list", json.dumps({"version": 1, "scores": [{"name": "staff", "items": {"a": 1}}]})),
    ("absurd-places", json.dumps({"version": 1, "rounding": {"places": 10 ** 9}, "scores": []})),
])
def test_a_forged_framework_json_is_refused(folder, name, text):
    (folder / "evidence" / "framework.json").write_text(text, encoding="utf-8")
    forge(folder, "evidence/framework.json")
    result = explain(folder)
    assert result.exit_code == 2
    assert result.stderr.startswith("kpidsl: ")


@pytest.mark.parametrize(("table", "select"), [
    ("entities", "* EXCLUDE (score)"),                                    # a missing column
    ("entities", "* REPLACE (CAST('NaN' AS DOUBLE) AS score)"),           # NaN
    ("entities", "* REPLACE (CAST('inf' AS DOUBLE) AS score)"),           # infinity
    ("entities", "* REPLACE ('lots' AS score)"),                          # text for a number
    ("items", "* REPLACE ('x' AS budget)"),
    ("items", "* REPLACE (CAST('-inf' AS DOUBLE) AS credit)"),
    ("items", "* EXCLUDE (parent_path)"),
    ("rating_steps", "* REPLACE (42 AS step)"),
    ("measures", "* REPLACE ([1, 2] AS value)"),
])
def test_forged_evidence_is_refused(folder, table, select):
    rewrite_parquet(folder, table, select)
    forge(folder, f"evidence/{table}.parquet")
    result = explain(folder)
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert result.stderr.startswith(f"kpidsl: {folder}")


@pytest.mark.parametrize(("name", "text"), [
    ("deep", DEEP),
    ("list", "[]"),
    ("engine-a-number", json.dumps({"engine": 5})),
    ("not-json", "{"),
])
def test_a_damaged_manifest_is_refused(folder, name, text):
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    result = explain(folder)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"kpidsl: {folder}")
    assert "help: name the folder given as --out to `kpidsl run`" in result.stderr


def test_a_manifest_too_large_to_be_a_run_s_is_not_read(folder):
    with open(folder / "manifest.json", "r+b") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: no disk is used
    result = explain(folder)
    assert result.exit_code == 2
    assert "more than a run writes" in result.stderr


def test_a_run_into_a_folder_with_a_deep_manifest_is_refused_not_an_internal_error(folder, tmp_path, monkeypatch):
    write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    (folder / "manifest.json").write_text(DEEP, encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["run", "fx.kpi", "--data", "data", "--period", "2025-Q3",
                                           "--out", str(folder)])
    assert result.exit_code == 2
    assert "holds files that kpidsl did not write" in result.stderr


# ---------------------------------------------------------------- sheets reads the same folder

def sheets(folder: Path):
    result = CliRunner().invoke(cli.main, ["sheets", str(folder), "--format", "html", "--to",
                                           str(folder.parent / "sheets")])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    return result


def test_sheets_refuse_an_altered_folder(folder):
    (folder / "evidence" / "framework.json").write_text(DEEP, encoding="utf-8")
    result = sheets(folder)
    assert result.exit_code == 2
    assert "evidence/framework.json (changed) does not match its manifest" in result.stderr


@pytest.mark.parametrize("text", [DEEP, "[1]", json.dumps({"scores": 5, "rounding": {"places": 2}})])
def test_sheets_refuse_a_forged_folder(folder, text):
    (folder / "evidence" / "framework.json").write_text(text, encoding="utf-8")
    forge(folder, "evidence/framework.json")
    result = sheets(folder)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"kpidsl: {folder}")


def test_sheets_of_an_untouched_folder_are_written(folder):
    assert sheets(folder).exit_code == 0
