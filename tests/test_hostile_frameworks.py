"""Hostile framework files: `use` reaches nothing outside the framework root, a file that is not a
framework is never quoted, and no terminal escape gets through `check`, `fmt` or `test`."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli

SECRET = "DB_PASSWORD=hunter2-never-in-a-log"
HEAD = 'framework unit "Unit"\n\n'


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository (`.git`) with a unit frame, and secrets beside it, outside the repository."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "units").mkdir()
    (tmp_path / "secrets").mkdir()
    for name in ("deploy.env", "deploy.kpi"):
        (tmp_path / "secrets" / name).write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def check(*args: str):
    result = CliRunner().invoke(cli.main, ["check", "--no-cache", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "hunter2" not in result.output, result.output
    return result


@pytest.mark.parametrize(("use", "message"), [
    ("/etc/shadow", "`use` names an absolute path, `/etc/shadow`"),
    ("/proc/self/environ", "`use` names an absolute path, `/proc/self/environ`"),
    ("../../secrets/deploy.env", "`../../secrets/deploy.env` is not a `.kpi` file; `use` reads framework files only"),
    ("../../secrets/deploy.kpi", "`../../secrets/deploy.kpi` is outside the framework root `.`"),
    ("C:/Windows/win.ini.kpi", "`use` names an absolute path, `C:/Windows/win.ini.kpi`"),
])
def test_use_reaches_nothing_outside_the_root(repo, use, message):
    (repo / "units" / "main.kpi").write_text(f'{HEAD}use "{use}"\n', encoding="utf-8")
    result = check("units/main.kpi")
    assert result.exit_code == 1
    assert f"units/main.kpi:3:1: error[KPI016]: {message}" in result.stdout


def test_a_symbolic_link_out_of_the_root_is_refused(repo):
    os.symlink(repo.parent / "secrets", repo / "units" / "shared")
    (repo / "units" / "main.kpi").write_text(f'{HEAD}use "shared/deploy.kpi"\n', encoding="utf-8")
    result = check("units/main.kpi")
    assert ("error[KPI016]: `shared/deploy.kpi` leads outside the framework root `.` through a symbolic link"
            in result.stdout)


def test_files_inside_the_root_are_reached_by_dot_dot(repo):
    (repo / "central").mkdir()
    (repo / "central" / "central.kpi").write_text('framework central "Central"\n', encoding="utf-8")
    (repo / "units" / "main.kpi").write_text(f'{HEAD}use "../central/central.kpi"\n', encoding="utf-8")
    assert check("units/main.kpi").stdout == "0 errors, 0 warnings in 1 file\n"


def test_a_declared_root_marks_a_folder_without_a_repository(tmp_path, monkeypatch):
    (tmp_path / "set" / "units").mkdir(parents=True)
    (tmp_path / "set" / ".kpidsl-root").write_text("", encoding="utf-8")
    (tmp_path / "set" / "central.kpi").write_text('framework central "Central"\n', encoding="utf-8")
    (tmp_path / "set" / "units" / "main.kpi").write_text(f'{HEAD}use "../central.kpi"\n', encoding="utf-8")
    (tmp_path / "outside.kpi").write_text('framework outside "Outside"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert check("set/units/main.kpi").exit_code == 0
    (tmp_path / "set" / "units" / "main.kpi").write_text(f'{HEAD}use "../../outside.kpi"\n', encoding="utf-8")
    assert "is outside the framework root `set`" in check("set/units/main.kpi").stdout


def test_a_used_pipe_is_never_opened(repo):
    os.mkfifo(repo / "units" / "pipe.kpi")
    (repo / "units" / "main.kpi").write_text(f'{HEAD}use "pipe.kpi"\n', encoding="utf-8")
    done: list = []
    worker = threading.Thread(target=lambda: done.append(check("units/main.kpi")), daemon=True)
    worker.start()
    worker.join(60)
    assert done, "check waited on a named pipe"
    assert ("error[KPI011]: used file `pipe.kpi` cannot be read: it is a named pipe (FIFO), not a file"
            in done[0].stdout)


def test_a_file_that_is_not_a_framework_is_never_quoted(repo):
    (repo / "units" / "settings.kpi").write_text(SECRET + "\nAPI_KEY=abc\n", encoding="utf-8")
    (repo / "units" / "main.kpi").write_text(f'{HEAD}use "settings.kpi"\n', encoding="utf-8")
    for args in (["units/main.kpi"], ["units/settings.kpi"], ["--format", "json", "units/settings.kpi"],
                 ["--format", "github", "units/settings.kpi"]):
        result = check(*args)
        assert result.exit_code == 1
        assert "API_KEY" not in result.output
        assert "KPI017" in result.output
    fmt = CliRunner().invoke(cli.main, ["fmt", "--check", "units/settings.kpi"])
    assert "hunter2" not in fmt.output and "API_KEY" not in fmt.output


def test_a_framework_with_a_syntax_error_is_still_quoted(repo):
    (repo / "units" / "main.kpi").write_text(f"{HEAD}measure x for people = = 1\n", encoding="utf-8")
    result = check("units/main.kpi")
    assert "3 | measure x for people = = 1" in result.stdout


# ---------------------------------------------------------------- messages of check and fmt

def test_fmt_check_counts_a_file_it_cannot_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("broken.kpi").write_text('framework x "X"\nmeasure = \n', encoding="utf-8")
    Path("fine.kpi").write_text('framework y "Y"\n', encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["fmt", "--check", "broken.kpi", "fine.kpi"])
    assert result.exit_code == 2
    assert result.stderr.endswith("0 files would be reformatted, 1 unchanged, 1 could not be formatted "
                                  "(errors above)\n")


def test_a_link_loop_given_to_check_is_called_a_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("b.kpi", "a.kpi")
    os.symlink("a.kpi", "b.kpi")
    result = check("a.kpi")
    assert result.stdout.startswith("a.kpi:1:1: error[KPI010]: cannot read the path: it is a loop of symbolic links")


# ---------------------------------------------------------------- terminals

ESCAPES = "\x1b]0;owned\x07\x1b[2J"


def test_escapes_in_file_names_never_reach_the_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"a{ESCAPES}.kpi"
    Path(name).write_text('framework x "X"\nmeasure = 1\n', encoding="utf-8")
    for command in (["check", "--no-cache", name], ["check", "--format", "github", name], ["fmt", "--check", name],
                    ["test", name]):
        result = CliRunner().invoke(cli.main, command)
        assert "\x1b" not in result.output and "\x07" not in result.output, command


def test_test_labels_cannot_forge_lines_or_drive_the_terminal(tmp_path, monkeypatch):
    # A label with a newline would print a line of its own (a forged "ok"); one with a bidi override
    # shows its text backwards. Both are shown as the replacement character.
    monkeypatch.chdir(tmp_path)
    Path("t.kpi").write_text(
        'framework t "T"\ninput units key unit_id { unit_id: text }\n'
        'input people key person_id { person_id: text  unit_id: ref units }\n'
        'units from units\npeople from people member of unit_id\nmeasure one for people = 1\n'
        'test "a\\nok   forged.kpi:1: all good \u202eevil" {\n  period 2025-Q3\n'
        '  given units [unit_id] {\n    [u1]\n  }\n  given people [person_id, unit_id] {\n    [p1, u1]\n  }\n'
        '  expect person p1 one = 2\n}\n', encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["test", "t.kpi"])
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL t.kpi:7: a\ufffdok   forged.kpi:1: all good \ufffdevil"
    assert not any(line.startswith("ok   forged") for line in lines), result.stdout
    assert "\u202e" not in result.stdout
