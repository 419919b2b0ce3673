"""A run folder keeps the framework files it was scored with (evidence/sources/), so it stands on its own."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from kpidsl import cli
from kpidsl.output.sources import collect_sources
from kpidsl.pipeline import check_file

ROOT = Path(__file__).parent.parent
UNIT = ROOT / "frameworks" / "units" / "administration.kpi"
CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"


def test_a_run_keeps_every_framework_file_it_read(tmp_path):
    # The unit frame uses ../central/central.kpi: both are kept, under the folder they share, so the
    # `use` path still resolves inside the copy.
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, ["run", str(UNIT), "--data", str(ROOT / "examples" / "quarter-2025-Q4"),
                                           "--period", "2025-Q4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    sources = out / "evidence" / "sources"
    assert sorted(p.relative_to(sources).as_posix() for p in sources.rglob("*") if p.is_file()) == [
        "central/central.kpi", "units/administration.kpi"]
    assert (sources / "central" / "central.kpi").read_bytes() == CENTRAL.read_bytes()
    assert (sources / "units" / "administration.kpi").read_bytes() == UNIT.read_bytes()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["framework"]["files"]}
    assert files["../central/central.kpi"]["source"] == "evidence/sources/central/central.kpi"
    assert files["administration.kpi"]["source"] == "evidence/sources/units/administration.kpi"
    outputs = {o["name"]: o["sha256"] for o in manifest["outputs"]}
    for entry in files.values():
        data = (out / entry["source"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() == outputs[entry["source"]]
        assert entry["size"] == len(data)
    # Without the repository, the copy checks clean and is the same framework.
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    program, diags = check_file(str(moved / "evidence" / "sources" / "units" / "administration.kpi"))
    assert program is not None and not [d for d in diags if d.is_error]
    assert all(Path(f).is_relative_to(moved) for f in program.files)
    original, _ = check_file(str(UNIT))
    assert program.scores == original.scores and program.ratings == original.ratings


def test_sources_are_named_below_the_folder_they_share(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    for name in ("a/b/x.kpi", "c/y.kpi"):
        (tmp_path / name).write_bytes(name.encode())
    copies = collect_sources([str(tmp_path / "c" / "y.kpi"), str(tmp_path / "a" / "b" / "x.kpi")])
    assert [(c.name, c.data) for c in copies] == [("c/y.kpi", b"c/y.kpi"), ("a/b/x.kpi", b"a/b/x.kpi")]
    assert [c.output_name for c in copies] == ["evidence/sources/c/y.kpi", "evidence/sources/a/b/x.kpi"]
    assert collect_sources([str(tmp_path / "c" / "y.kpi")])[0].name == "y.kpi"
