"""Fault injection: runs killed (SIGKILL) or stopped (SIGTERM, Ctrl-C) at named points while they write.

The invariant, after every kill: the output folder is the earlier run or the new one,
each complete (every file the manifest lists, with its hash, and nothing else), and
after the next command that reads the folder nothing the killed run made is left —
not next to the folder and not in the temporary folder. A run stopped by SIGTERM or
Ctrl-C leaves nothing behind at all, and says so in one line.

The points are named in kpidsl/faults.py; `KPIDSL_FAULT=POINT:SIGNAL` makes a run
send itself the signal there.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli
from kpidsl.faults import POINTS
from results_fixture import write_inputs

ROOT = Path(__file__).parent.parent
FORMATS = "csv,parquet,json,xlsx"
# Ctrl-C and SIGTERM at a handful of points: before anything is written, while writing two formats,
# with the new folder complete, and between the two renames (where signals wait for the swap to end).
STOPPED_AT = [("loaded", "TERM"), ("write-csv", "TERM"), ("write-xlsx", "TERM"), ("manifest", "TERM"),
              ("swap-aside", "TERM"), ("scored", "INT"), ("write-parquet", "INT")]


def _run_in_process(*args: str):
    return CliRunner().invoke(cli.main, ["run", "fx.kpi", "--data", "data", "--period", "2025-Q3", *args])


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _complete(folder: Path) -> dict[str, str]:
    """The files of a complete run folder: exactly those its manifest lists, each with its hash."""
    files = _files(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = {o["name"]: o["sha256"] for o in manifest["outputs"]}
    assert {**listed, "manifest.json": files["manifest.json"]} == files
    return files


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The earlier run (default formats) and what the new run writes (every format, changed data)."""
    base = tmp_path_factory.mktemp("faults")
    write_inputs(base)
    old = os.getcwd()
    os.chdir(base)
    try:
        assert _run_in_process("--out", "earlier").exit_code == 0
        people = base / "data" / "people.csv"
        people.write_text(people.read_text(encoding="utf-8").replace("p1,u1,staff,27", "p1,u1,staff,28"),
                          encoding="utf-8")
        assert _run_in_process("--out", "new", "--format", FORMATS).exit_code == 0
    finally:
        os.chdir(old)
    return base, _complete(base / "earlier"), _complete(base / "new")


@pytest.fixture
def case(runs, tmp_path, monkeypatch):
    """A folder holding the framework, the changed data and `out`: a copy of the earlier run."""
    import shutil

    base, earlier, new = runs
    shutil.copy(base / "fx.kpi", tmp_path / "fx.kpi")
    shutil.copytree(base / "data", tmp_path / "data")
    shutil.copytree(base / "earlier", tmp_path / "out")
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path, earlier, new


def _killed_run(folder: Path, point: str, how: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KPIDSL_FAULT": f"{point}:{how}", "TMPDIR": str(folder / "tmp")}
    return subprocess.run([sys.executable, "-m", "kpidsl", "run", "fx.kpi", "--data", "data", "--period", "2025-Q3",
                           "--out", "out", "--format", FORMATS], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_points_are_reached(case):
    # Each point is passed by a run writing every format, or a test below would kill nothing.
    folder, _, _ = case
    source = (ROOT / "kpidsl").rglob("*.py")
    used = {p for path in source for p in POINTS if f'faults.point("{p}")' in path.read_text(encoding="utf-8")}
    assert used == set(POINTS)


@pytest.mark.parametrize("point", POINTS)
def test_killed_run_leaves_a_whole_folder_and_the_next_reader_cleans_up(case, point):
    folder, earlier, new = case
    proc = _killed_run(folder, point, "KILL")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert list((folder / "tmp").iterdir()) == []  # nothing of a run is ever in the system's temp folder
    out = folder / "out"
    # Killed between the renames, the folder is missing until a reader puts it back: explain does.
    result = CliRunner().invoke(cli.main, ["explain", "out", "--id", "p1"])
    assert result.exit_code == 0, result.output
    assert _complete(out) in (earlier, new)
    assert _leftovers(folder) == []
    assert list((folder / "tmp").iterdir()) == []


@pytest.mark.parametrize("point", ["swap-journal", "swap-aside", "write-xlsx"])
def test_the_next_run_repairs_what_a_killed_run_left_and_says_so(case, point):
    folder, earlier, new = case
    assert _killed_run(folder, point, "KILL").returncode == -signal.SIGKILL
    assert _leftovers(folder)  # the kill left something, or this test proves nothing
    result = _run_in_process("--out", "out", "--format", FORMATS)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("kpidsl: ")]
    assert notes and any("interrupted" in line for line in notes)
    assert _complete(folder / "out") == new
    assert _leftovers(folder) == [] and list((folder / "tmp").iterdir()) == []


@pytest.mark.parametrize(("point", "how"), STOPPED_AT)
def test_stopped_run_cleans_up_on_its_way_out(case, point, how):
    folder, earlier, new = case
    proc = _killed_run(folder, point, how)
    code = 128 + getattr(signal, f"SIG{how}")
    assert proc.returncode == code, proc.stderr
    name = "Ctrl-C" if how == "INT" else f"SIG{how}"
    where = "the new results are in out" if point == "swap-aside" else "out was left as it was"
    assert proc.stderr == f"kpidsl: interrupted ({name}); {where}\n"
    assert "Traceback" not in proc.stderr
    # Signals wait while the folders are swapped: stopped between the renames, the run finishes the swap.
    assert _complete(folder / "out") == (new if point == "swap-aside" else earlier)
    assert _leftovers(folder) == [] and list((folder / "tmp").iterdir()) == []


def test_a_second_run_into_the_same_folder_waits_for_none_and_is_refused(case):
    # A live run holds the lock: a second run into the same folder is refused, and touches nothing.
    import fcntl

    folder, earlier, _ = case
    lock = folder / ".out.lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        (folder / ".out.work-abcdefgh").mkdir()  # the live run's work folder
        result = _run_in_process("--out", "out")
        assert result.exit_code == 2
        assert result.stderr == ("kpidsl: --out: another kpidsl run (process 4242) is writing out right now; "
                                 "wait for it to finish, or choose another folder\n")
        assert (folder / ".out.work-abcdefgh").is_dir()  # held by a live process: never removed
    assert _complete(folder / "out") == earlier


def test_duckdb_s_own_interrupted_error_is_an_interruption(case, monkeypatch):
    # A signal during a DuckDB query comes back as DuckDB's "Query interrupted" error, not KeyboardInterrupt.
    import kpidsl.interrupts as interrupts

    folder, earlier, _ = case

    def interrupted(*args, **kwargs):
        interrupts._received = signal.SIGTERM
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr("kpidsl.data.validate.load_and_validate", interrupted)
    monkeypatch.setattr(interrupts, "install", lambda: None)  # keep the flag set above
    result = _run_in_process("--out", "out")
    monkeypatch.setattr(interrupts, "_received", None)
    assert result.exit_code == 143
    assert result.stderr == "kpidsl: interrupted (SIGTERM); out was left as it was\n"
    assert _complete(folder / "out") == earlier and _leftovers(folder) == []


@pytest.mark.parametrize("command", [["check", "fx.kpi"], ["test", "fx.kpi"], ["explain", "out", "--id", "p1"]])
def test_ctrl_c_in_any_command_is_one_line_and_130(case, monkeypatch, command):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kpidsl.pipeline.check_paths", interrupted)
    monkeypatch.setattr("kpidsl.testing.run_paths", interrupted)
    monkeypatch.setattr("kpidsl.output.explain.explain", interrupted)
    result = CliRunner().invoke(cli.main, command)
    assert result.exit_code == 130
    assert result.stderr == "kpidsl: interrupted (Ctrl-C)\n" and result.stdout == ""


def test_diff_of_a_run_folder_puts_back_a_swap_a_kill_left(case):
    folder, earlier, _ = case
    assert _killed_run(folder, "swap-aside", "KILL").returncode == -signal.SIGKILL
    assert not (folder / "out").exists()
    result = CliRunner().invoke(cli.main, ["diff", "out", "fx.kpi"])
    assert result.exit_code in (0, 1), result.output
    assert "kpidsl: a run was interrupted while replacing out; the earlier run was put back in place" in result.stderr
    assert _complete(folder / "out") == earlier


def test_an_interruption_read_as_a_data_problem_is_still_an_interruption(case, monkeypatch):
    # DuckDB may report a signal as one of its own errors, which reading a file turns into a data problem.
    import kpidsl.interrupts as interrupts
    from kpidsl.data.sources import StageError

    folder, earlier, _ = case

    def stage(*args, **kwargs):
        interrupts._received = signal.SIGTERM
        raise StageError("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr("kpidsl.data.sources.FolderSource.stage", stage)
    monkeypatch.setattr(interrupts, "install", lambda: None)
    result = _run_in_process("--out", "out")
    monkeypatch.setattr(interrupts, "_received", None)
    assert result.exit_code == 143
    assert result.stderr == "kpidsl: interrupted (SIGTERM); out was left as it was\n"
    assert _complete(folder / "out") == earlier and _leftovers(folder) == []
