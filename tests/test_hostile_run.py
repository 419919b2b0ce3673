"""Hostile runs and output folders: nothing lost, nothing leaked, no internal error.

Each test is one attack on `kpidsl run` and its output folder (data inside the folder
being replaced, formula cells, terminal escapes, names too long, a full disk, texts a
workbook cannot hold) and the answer kpidsl must give. Interruptions are in
tests/test_faults.py; hostile data files in tests/test_hostile_data.py.
"""

from __future__ import annotations

import csv
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli
from results_fixture import DATA, write_inputs


@pytest.fixture
def fx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path)
    return tmp_path


def run(*args: str, data: str = "data", out: str = "out", framework: str = "fx.kpi"):
    result = CliRunner().invoke(cli.main, ["run", framework, "--data", data, "--period", "2025-Q3", "--out", out,
                                           *args])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def with_ids(folder: Path, ids: dict[str, str]) -> None:
    """Rename people in the fixture's data (every cell that names them), written as proper CSV."""
    for name, text in DATA.items():
        rows = [[ids.get(cell, cell) for cell in row] for row in csv.reader(io.StringIO(text))]
        with open(folder / "data" / name, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)


# ---------------------------------------------------------------- data loss

def test_data_inside_the_output_folder_is_refused_and_kept(fx):
    assert run().exit_code == 0
    shutil.copytree(fx / "data", fx / "out" / "data")
    before = files_in(fx / "out")
    result = run(data="out/data")
    assert result.exit_code == 2
    assert result.stderr == ("kpidsl: --out: the data (out/data) is inside out, which a run replaces as a whole; "
                             "write the results to a folder outside the data\n")
    assert files_in(fx / "out") == before  # the data is still there


def test_data_as_the_output_folder_is_refused(fx):
    result = run(data="data", out="data")
    assert result.exit_code == 2  # refused before anything: the folder holds files kpidsl did not write
    assert "data holds files that kpidsl did not write" in result.stderr
    (fx / "data" / "manifest.json").write_text('{"engine": {"name": "kpidsl"}}', encoding="utf-8")
    result = run(data="data", out="data")  # even when it looks like an earlier run's folder
    assert result.exit_code == 2 and "the data (data) is inside data" in result.stderr
    assert (fx / "data" / "people.csv").is_file()


def test_output_folder_inside_the_data_folder_is_refused(fx):
    result = run(out="data/results")
    assert result.exit_code == 2
    assert "kpidsl: --out: data/results is inside the data folder data" in result.stderr
    assert not (fx / "data" / "results").exists()


def test_framework_inside_the_output_folder_is_refused(fx):
    assert run().exit_code == 0
    shutil.copy(fx / "fx.kpi", fx / "out" / "fx.kpi")
    result = run(framework="out/fx.kpi")
    assert result.exit_code == 2
    assert "the framework file out/fx.kpi is inside out, which a run replaces as a whole" in result.stderr
    assert (fx / "out" / "fx.kpi").is_file()


def test_a_symbolic_link_does_not_hide_the_overlap(fx):
    assert run().exit_code == 0
    shutil.copytree(fx / "data", fx / "out" / "data")
    os.symlink(fx / "out" / "data", fx / "link")
    result = run(data="link")
    assert result.exit_code == 2 and "is inside out" in result.stderr
    assert (fx / "out" / "data" / "people.csv").is_file()


def test_a_failed_run_removes_the_parent_folders_it_made(fx):
    (fx / "data" / "people.csv").write_text("person_id,unit_id,role,general_points\np1,u9,staff,1\n",
                                            encoding="utf-8")
    assert run(out="new/deeper/out").exit_code == 2
    assert not (fx / "new").exists() and hidden(fx) == []


# ---------------------------------------------------------------- output paths

def test_out_inside_a_file_says_which_part_is_a_file(fx):
    (fx / "afile").write_text("x", encoding="utf-8")
    result = run(out="afile/sub")
    assert result.exit_code == 2
    assert result.stderr == "kpidsl: --out: afile is a file, not a folder, so afile/sub cannot be made inside it\n"


def test_a_name_of_250_characters_is_written(fx):
    name = "r" * 250
    result = run(out=name)
    assert result.exit_code == 0, result.output
    assert (fx / name / "manifest.json").is_file()
    assert hidden(fx) == []
    assert run(out=name).exit_code == 0  # and replaced


def test_a_name_longer_than_the_file_system_allows_is_refused(fx):
    name = "r" * 300
    result = run(out=name)
    assert result.exit_code == 2
    assert f"kpidsl: --out: the name {'r' * 40}… is 300 bytes long; this file system allows at most 255" \
        in result.stderr


# ---------------------------------------------------------------- disk full

def _limited(max_bytes: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


def test_a_full_disk_while_writing_leaves_the_earlier_run_and_says_so(fx):
    assert run().exit_code == 0
    before = files_in(fx / "out")
    proc = subprocess.run([sys.executable, "-m", "kpidsl", "run", "fx.kpi", "--data", "data", "--period", "2025-Q3",
                           "--out", "out", "--format", "csv,parquet,json,xlsx"], cwd=fx, capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited(3000))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("kpidsl: cannot write the outputs: File too large")
    assert proc.stderr.endswith("; out was left as it was\n") and proc.stderr.count("\n") == 1
    assert files_in(fx / "out") == before and hidden(fx) == []


def test_a_full_disk_reported_by_duckdb_is_a_message(fx, monkeypatch):
    import duckdb

    def full(*args, **kwargs):
        raise duckdb.IOException('IO Error: Could not write file "/x/people.parquet": No space left on device')

    monkeypatch.setattr("kpidsl.output.tables._write_parquet", full)
    result = run()
    assert result.exit_code == 2
    assert result.stderr == "kpidsl: cannot write the outputs: No space left on device; out was left as it was\n"
    assert hidden(fx) == []


# ---------------------------------------------------------------- formulas in CSV

FORMULAS = {"p1": "=HYPERLINK(\"http://x\",\"y\")", "p2": "+cmd|' /C calc'!A0", "p3": "@SUM(1+1)"}


def test_csv_cells_that_look_like_formulas_are_neutralised(fx):
    with_ids(fx, FORMULAS)
    assert run("--long").exit_code == 0

    def cells(name: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO((fx / "out" / name).read_text(encoding="utf-8-sig"))))

    ids = [row[0] for row in cells("people.csv")[1:]]
    assert ids == ["'+cmd|' /C calc'!A0", "'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1+1)"]
    for name in ("items.csv", "measures.csv", "rating_steps.csv", "quota.csv"):
        assert all(not cell.startswith(("=", "+", "@")) for row in cells(name)[1:] for cell in row), name
    # The ids a quota kept or moved are a list written as text: neutralised as a whole cell.
    assert any(cell.startswith("'") for row in cells("quota.csv")[1:] for cell in row)
    # Parquet holds the data as it is: it is not opened as a spreadsheet.
    import duckdb

    with duckdb.connect() as con:
        kept = con.execute("SELECT id FROM read_parquet($p) ORDER BY id", {"p": str(fx / "out" / "people.parquet")})
        assert [row[0] for row in kept.fetchall()] == sorted(FORMULAS.values())


def test_negative_numbers_stay_numbers_in_csv(fx):
    # A penalty's points and a value below zero are numbers, and a number is not a formula.
    framework = (fx / "fx.kpi").read_text(encoding="utf-8")
    framework = framework.replace("  extra: number >= 0 = 0\n", "  extra: number = 0\n")
    framework = framework.replace('bonus extra_work "Extra work" = extra at most 2',
                                  'penalty extra_work "Extra work" = extra at most 2')
    (fx / "fx.kpi").write_text(framework, encoding="utf-8")
    people = DATA["people.csv"].replace("general_points,errors\n", "general_points,errors,extra\n")
    people = people.replace("27,2\n", "27,2,-1.5\n").replace("30,0\n", "30,0,1\n")
    (fx / "data" / "people.csv").write_text(people, encoding="utf-8")
    result = run()
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((fx / "out" / "people.csv").read_text(encoding="utf-8"))))
    assert rows[0]["extra_work.value"] == "-1.5"


def test_raw_csv_writes_cells_as_they_are(fx):
    with_ids(fx, FORMULAS)
    assert run("--raw-csv").exit_code == 0
    rows = list(csv.reader(io.StringIO((fx / "out" / "people.csv").read_text(encoding="utf-8"))))
    assert [row[0] for row in rows[1:]] == ["+cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"y\")", "@SUM(1+1)"]


# ---------------------------------------------------------------- terminals

ESCAPES = "\x1b]0;owned\x07\x1b[2J\u202e"


def test_escapes_in_data_never_reach_the_terminal(fx):
    with_ids(fx, {"p1": f"p{ESCAPES}1"})
    result = run(out=f"o{ESCAPES}ut")
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert result.stdout.endswith(" files to o\ufffd]0;owned\ufffd\ufffd[2J\ufffdut\n")
    explained = CliRunner().invoke(cli.main, ["explain", f"o{ESCAPES}ut", "--id", f"p{ESCAPES}1"])
    assert explained.exit_code == 0, explained.output
    assert "\x1b" not in explained.output and "\u202e" not in explained.output
    assert "person Nguyễn Văn An (p\ufffd]0;owned\ufffd\ufffd[2J\ufffd1) · score staff" in explained.stdout
    missing = CliRunner().invoke(cli.main, ["explain", f"o{ESCAPES}ut", "--id", f"q{ESCAPES}"])
    assert missing.exit_code == 2 and "\x1b" not in missing.output


def test_escapes_in_data_problems_never_reach_the_terminal(fx):
    (fx / "data" / "people.csv").write_text(DATA["people.csv"].replace(",u1,staff,30,0\np3", f",u1,st{ESCAPES},30,0\np3"),
                                            encoding="utf-8")
    assert ESCAPES in (fx / "data" / "people.csv").read_text(encoding="utf-8")
    result = run()
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\u202e" not in result.output and "\x07" not in result.output


# ---------------------------------------------------------------- texts a workbook cannot hold

def _xlsx_cells(path: Path, sheet: str = "people") -> list[str]:
    import re

    with zipfile.ZipFile(path) as book:
        names = {"people": "xl/worksheets/sheet1.xml"}
        xml = book.read(names[sheet]).decode("utf-8")
    return re.findall(r"<t>(.*?)</t>", xml, flags=re.S)


def test_xlsx_keeps_a_carriage_return_and_text_that_looks_like_an_escape(fx):
    with_ids(fx, {"p1": "a\r\nb", "p2": "x_x0041_y"})
    result = run("--format", "xlsx")
    assert result.exit_code == 0, result.output
    cells = _xlsx_cells(fx / "out" / "results.xlsx")
    # A workbook stores CR as _x000D_ (XML would read a bare CR back as LF), and escapes the `_` of a
    # text that reads like such an escape: both read back exactly as written.
    assert "a_x000D_\nb" in cells and "x_x005F_x0041_y" in cells


def test_xlsx_refuses_a_text_longer_than_a_cell_holds(fx):
    with_ids(fx, {"p1": "p" + "x" * 40_000})
    result = run("--format", "csv,xlsx")
    assert result.exit_code == 2
    assert result.stderr == ("kpidsl: cannot write the outputs: people, row 3, column id: a text of 40,001 "
                             "characters; a spreadsheet cell holds at most 32,767. Leave out xlsx (csv, json and "
                             "parquet hold it whole); out was left as it was\n")
    assert not (fx / "out").exists() and hidden(fx) == []
    assert run("--format", "csv").exit_code == 0  # the same data in CSV, whole
    assert "x" * 40_000 in (fx / "out" / "people.csv").read_text(encoding="utf-8")


def test_a_full_disk_while_scoring_is_a_message(fx, monkeypatch):
    # DuckDB spills its tables into the work folder next to --out; a full disk there ends the run.
    import duckdb

    def full(*args, **kwargs):
        raise duckdb.IOException('IO Error: Could not write to file "/x/.out.work-abc/duckdb_temp_storage": '
                                 "No space left on device")

    monkeypatch.setattr("kpidsl.pipeline._score", full)
    result = run()
    assert result.exit_code == 2
    assert result.stderr == ("kpidsl: cannot finish the run: No space left on device (in the work folder next to "
                             "out); out was left as it was\n")
    assert hidden(fx) == [] and not (fx / "out").exists()
