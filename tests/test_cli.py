"""The command line: every command, option and exit code, through click's CliRunner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import kpidsl
from kpidsl import cli
from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile
from kpidsl.syntax.parser import parse_source

ROOT = Path(__file__).parent.parent

# A small framework that is clean under every rule of the language: inputs all
# used, the scale used, points summing to the total, a test present.
CLEAN = """\
framework demo "Demo" version "2025.07" effective 2025-07-01 period quarter

input units "Units" key unit_id {
  unit_id: text
}

input people "People" key person_id {
  person_id: text
  unit_id: ref units
  general_points: number between 0 and 30
}

units from units
people from people member of unit_id

scale raters = linear 0 -> 0, 30 -> 100 clamp

score staff "Staff" for people {
  criterion general "General" points 100 = general_points scored raters
}

test "full marks" {
  period 2025-Q3
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, general_points] {
    [p1, u1, 30]
  }
  expect person p1 score = 100
}
"""

# Line 3 lacks the `=` of its criterion: one KPI001 at `done`, 3:44.
BROKEN = """\
framework broken "Broken"
score staff for people {
  criterion quantity "Quantity" points 100 done
}
"""

JSON_KEYS = {"version", "files", "summary", "diagnostics"}
DIAG_KEYS = {"code", "severity", "message", "file", "line", "column", "end_line", "end_column",
             "source_line", "help", "notes"}


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A folder with a clean and a broken framework, as the working directory."""
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "demo.kpi").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "broken.kpi").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def warning_pass(monkeypatch) -> None:
    """Replace the checker passes by one that finds a single warning, at the framework header."""
    import kpidsl.check as check

    def one_warning(program, ctx):
        yield Diagnostic("KPI100", "input `x` is never used", program.root.span, help="remove it")

    monkeypatch.setattr(check, "_passes", lambda: (one_warning,))


# ---------------------------------------------------------------- general

def test_version(runner):
    result = runner.invoke(cli.main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"kpidsl {kpidsl.__version__}"


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kpidsl", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, f"kpidsl {kpidsl.__version__}\n")
    usage = subprocess.run([sys.executable, "-m", "kpidsl", "check"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 2
    assert usage.stderr.startswith("Usage: kpidsl check")


def test_check_loads_no_heavy_library(tmp_path):
    """`check` must start fast: the engine's and the reports' libraries stay unloaded."""
    (tmp_path / "demo.kpi").write_text(CLEAN, encoding="utf-8")
    probe = ("import sys\nfrom kpidsl.cli import main\ntry:\n    main(['check', 'demo.kpi'])\n"
             "except SystemExit as stop:\n    code = stop.code\n"
             "print(code, sorted(m for m in ('duckdb', 'jinja2', 'pydantic') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stdout + proc.stderr


def test_help_lists_the_commands(runner):
    result = runner.invoke(cli.main, ["--help"])
    assert result.exit_code == 0
    assert "check" in result.output and "fmt" in result.output


@pytest.mark.parametrize("args", [["check"], ["fmt"], ["check", "--bogus", "x.kpi"], ["nonsense"],
                                  ["check", "--format", "xml", "x.kpi"]])
def test_usage_errors_exit_2(runner, args):
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 2
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def test_unexpected_error_is_a_short_message_not_a_traceback(runner, tree, monkeypatch):
    import kpidsl.pipeline

    def explode(paths, strict=False, cache=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(kpidsl.pipeline, "check_paths", explode)
    monkeypatch.delenv("KPIDSL_DEBUG", raising=False)
    result = runner.invoke(cli.main, ["check", "clean"])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "report" in result.stderr
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- check

def test_check_clean_folder_exits_0(runner, tree):
    result = runner.invoke(cli.main, ["check", "clean"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "0 errors, 0 warnings in 1 file\n"


def test_check_findings_exit_1(runner, tree):
    result = runner.invoke(cli.main, ["check", "broken/broken.kpi"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "broken/broken.kpi:3:44: error[KPI001]: missing `=` in criterion `quantity` before `done`"
    assert lines[-1] == "1 error, 0 warnings in 1 file"


def test_check_several_paths_counts_files(runner, tree):
    result = runner.invoke(cli.main, ["check", "clean", "broken"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 error, 0 warnings in 2 files"


def test_check_same_file_twice_is_checked_once(runner, tree):
    result = runner.invoke(cli.main, ["check", "broken/broken.kpi", str(tree / "broken" / "broken.kpi"), "."])
    assert result.stdout.splitlines()[-1] == "1 error, 0 warnings in 2 files"
    assert result.stdout.count("KPI001") == 1


def test_warnings_pass_unless_strict(runner, tree, monkeypatch):
    warning_pass(monkeypatch)
    relaxed = runner.invoke(cli.main, ["check", "clean"])
    assert relaxed.exit_code == 0
    assert "warning[KPI100]" in relaxed.stdout
    assert relaxed.stdout.splitlines()[-1] == "0 errors, 1 warning in 1 file"
    strict = runner.invoke(cli.main, ["check", "--strict", "clean"])
    assert strict.exit_code == 1
    assert "error[KPI100]" in strict.stdout
    assert strict.stdout.splitlines()[-1] == "1 error, 0 warnings in 1 file"


def test_check_missing_path_exits_2_with_a_diagnostic(runner, tree):
    result = runner.invoke(cli.main, ["check", "clean", "nowhere.kpi"])
    assert result.exit_code == 2
    assert "nowhere.kpi:1:1: error[KPI010]: no such file or folder" in result.stdout


def test_check_undecodable_file_exits_2(runner, tree):
    (tree / "latin1.kpi").write_bytes('framework x "Đơn vị"\n'.encode()[:-9] + b"\xe9\n")
    result = runner.invoke(cli.main, ["check", "latin1.kpi"])
    assert result.exit_code == 2
    assert "error[KPI005]" in result.stdout


def test_check_json_output(runner, tree):
    result = runner.invoke(cli.main, ["check", "--format", "json", "clean", "broken"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert set(doc) == JSON_KEYS
    assert doc["version"] == 1
    assert doc["files"] == ["clean/demo.kpi", "broken/broken.kpi"]
    assert doc["summary"] == {"errors": 1, "warnings": 0}
    [diag] = doc["diagnostics"]
    assert set(diag) == DIAG_KEYS
    assert diag == {
        "code": "KPI001", "severity": "error",
        "message": "missing `=` in criterion `quantity` before `done`",
        "file": "broken/broken.kpi", "line": 3, "column": 44, "end_line": 3, "end_column": 48,
        "source_line": '  criterion quantity "Quantity" points 100 done',
        "help": 'write `criterion name "Label" weight 1/3 = expression`', "notes": [],
    }


def test_check_json_clean_and_missing(runner, tree):
    clean = json.loads(runner.invoke(cli.main, ["check", "--format", "json", "clean"]).stdout)
    assert clean["diagnostics"] == [] and clean["summary"] == {"errors": 0, "warnings": 0}
    result = runner.invoke(cli.main, ["check", "--format", "json", "gone.kpi"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [d["code"] for d in doc["diagnostics"]] == ["KPI010"]
    assert doc["diagnostics"][0]["file"] == "gone.kpi"


def test_check_github_annotations(runner, tree, monkeypatch):
    result = runner.invoke(cli.main, ["check", "--format", "github", "broken"])
    assert result.exit_code == 1
    assert result.stdout == (
        "::error file=broken/broken.kpi,line=3,col=44,endLine=3,endColumn=48,title=KPI001::"
        "missing `=` in criterion `quantity` before `done` "
        '(help: write `criterion name "Label" weight 1/3 = expression`)\n'
    )
    # The summary is for the log reader, kept out of the annotation stream.
    assert result.stderr == "1 error, 0 warnings in 1 file\n"
    warning_pass(monkeypatch)
    warned = runner.invoke(cli.main, ["check", "--format", "github", "clean"])
    assert warned.stdout.startswith("::warning file=clean/demo.kpi,line=1,col=1,")


def test_colour_off_when_not_a_terminal(runner, tree, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = runner.invoke(cli.main, ["check", "broken"])
    assert "\x1b[" not in result.output


def test_colour_forced_on_and_off(runner, tree, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    forced = runner.invoke(cli.main, ["check", "--color", "broken"])
    assert "\x1b[" in forced.stdout
    assert "KPI001" in forced.stdout
    monkeypatch.setattr(cli, "_want_color", lambda flag, stream=None: True if flag is None else flag)
    off = runner.invoke(cli.main, ["check", "--no-color", "broken"])
    assert "\x1b[" not in off.stdout


def test_no_color_variable_wins_over_a_terminal(monkeypatch):
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli._want_color(None, Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._want_color(None, Tty()) is False
    assert cli._want_color(True, Tty()) is True


# ---------------------------------------------------------------- fmt

def _fake_format_text(path: str, text: str):
    """Stand-in formatter with an obvious rule: no trailing blanks, one final newline."""
    parsed = parse_source(SourceFile(path, text))
    if parsed.diagnostics:
        return None, list(parsed.diagnostics)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")) + "\n", []


@pytest.fixture
def fake_fmt(monkeypatch):
    """The CLI's contract with the formatter, pinned independently of its style."""
    module = types.ModuleType("kpidsl.fmt")
    module.format_text = _fake_format_text
    monkeypatch.setitem(sys.modules, "kpidsl.fmt", module)


UNTIDY = 'framework demo "Demo"   \n\n\nscale s = pass 100 fail 0  \n\n'
TIDY = 'framework demo "Demo"\n\n\nscale s = pass 100 fail 0\n'


@pytest.fixture
def fmt_tree(tmp_path, monkeypatch, fake_fmt) -> Path:
    (tmp_path / "a.kpi").write_text(UNTIDY, encoding="utf-8")
    (tmp_path / "b.kpi").write_text(TIDY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fmt_in_place_rewrites_only_what_changes(runner, fmt_tree):
    untouched = os.stat("b.kpi")
    result = runner.invoke(cli.main, ["fmt", "."])
    assert result.exit_code == 0, result.output
    assert Path("a.kpi").read_text(encoding="utf-8") == TIDY
    after = os.stat("b.kpi")
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    assert "reformatted a.kpi" in result.stderr
    assert "b.kpi" not in result.stderr
    assert result.stdout == ""
    assert sorted(os.listdir(".")) == ["a.kpi", "b.kpi"]  # no temp file left behind


def test_fmt_through_a_symlink_keeps_the_link(runner, fmt_tree):
    os.mkdir("real")
    os.replace("a.kpi", "real/a.kpi")
    os.symlink("real/a.kpi", "a.kpi")
    assert runner.invoke(cli.main, ["fmt", "a.kpi"]).exit_code == 0
    assert os.path.islink("a.kpi")
    assert Path("real/a.kpi").read_text(encoding="utf-8") == TIDY


def test_fmt_keeps_the_file_mode(runner, fmt_tree):
    os.chmod("a.kpi", 0o640)
    runner.invoke(cli.main, ["fmt", "a.kpi"])
    assert os.stat("a.kpi").st_mode & 0o777 == 0o640


def test_fmt_check_lists_and_exits_1_without_writing(runner, fmt_tree):
    result = runner.invoke(cli.main, ["fmt", "--check", "a.kpi", "b.kpi"])
    assert result.exit_code == 1
    assert "would reformat a.kpi" in result.stderr
    assert "would reformat b.kpi" not in result.stderr
    assert Path("a.kpi").read_text(encoding="utf-8") == UNTIDY
    clean = runner.invoke(cli.main, ["fmt", "--check", "b.kpi"])
    assert clean.exit_code == 0
    assert "0 files would be reformatted, 1 unchanged" in clean.stderr


def test_fmt_diff_prints_a_unified_diff(runner, fmt_tree):
    result = runner.invoke(cli.main, ["fmt", "--diff", "a.kpi", "b.kpi"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:3] == ["--- a/a.kpi", "+++ b/a.kpi", "@@ -1,5 +1,4 @@"]
    assert '-framework demo "Demo"   ' in result.stdout.splitlines()
    assert '+framework demo "Demo"' in result.stdout.splitlines()
    assert "b.kpi" not in result.stdout
    assert Path("a.kpi").read_text(encoding="utf-8") == UNTIDY
    assert runner.invoke(cli.main, ["fmt", "--diff", "b.kpi"]).exit_code == 0


def test_fmt_stdin_to_stdout(runner, fake_fmt):
    result = runner.invoke(cli.main, ["fmt", "-"], input=UNTIDY.encode("utf-8"))
    assert result.exit_code == 0
    assert result.stdout == TIDY
    checked = runner.invoke(cli.main, ["fmt", "--check", "-"], input=UNTIDY.encode("utf-8"))
    assert checked.exit_code == 1 and checked.stdout == ""
    diffed = runner.invoke(cli.main, ["fmt", "--diff", "-"], input=UNTIDY.encode("utf-8"))
    assert diffed.exit_code == 1 and diffed.stdout.startswith("--- a/<stdin>\n+++ b/<stdin>\n")


def test_fmt_stdin_with_syntax_error_prints_nothing_to_stdout(runner, fake_fmt):
    result = runner.invoke(cli.main, ["fmt", "-"], input=BROKEN.encode("utf-8"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "<stdin>:3:44: error[KPI001]" in result.stderr


def test_fmt_dash_with_other_paths_is_a_usage_error(runner, fmt_tree):
    result = runner.invoke(cli.main, ["fmt", "-", "a.kpi"])
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_fmt_leaves_a_file_with_syntax_errors_untouched(runner, fmt_tree):
    Path("broken.kpi").write_text(BROKEN, encoding="utf-8")
    result = runner.invoke(cli.main, ["fmt", "."])
    assert result.exit_code == 2
    assert "broken.kpi:3:44: error[KPI001]" in result.stderr
    assert Path("broken.kpi").read_text(encoding="utf-8") == BROKEN
    assert Path("a.kpi").read_text(encoding="utf-8") == TIDY  # the others are still formatted


@pytest.mark.parametrize("data, code", [(b"framework x \"\xff\"\n", "KPI005"), (b"framework\x00x\n", "KPI006")])
def test_fmt_unreadable_bytes_exit_2(runner, fmt_tree, data, code):
    Path("bad.kpi").write_bytes(data)
    result = runner.invoke(cli.main, ["fmt", "bad.kpi"])
    assert result.exit_code == 2
    assert f"error[{code}]" in result.stderr
    assert Path("bad.kpi").read_bytes() == data


def test_fmt_missing_path_exits_2(runner, fmt_tree):
    result = runner.invoke(cli.main, ["fmt", "nowhere.kpi"])
    assert result.exit_code == 2
    assert "nowhere.kpi:1:1: error[KPI010]" in result.stderr


def test_fmt_with_the_real_formatter(runner, tmp_path, monkeypatch):
    """End to end on copies of the shipped frameworks: format, then nothing is left to change."""
    copy = tmp_path / "frameworks"
    shutil.copytree(ROOT / "frameworks", copy)
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(cli.main, ["fmt", "frameworks"])
    assert first.exit_code == 0, first.output
    formatted = {f: f.read_bytes() for f in copy.rglob("*.kpi")}
    assert runner.invoke(cli.main, ["fmt", "--check", "frameworks"]).exit_code == 0
    assert runner.invoke(cli.main, ["fmt", "--diff", "frameworks"]).stdout == ""
    again = runner.invoke(cli.main, ["fmt", "frameworks"])
    assert again.exit_code == 0
    assert not [line for line in again.stderr.splitlines() if line.startswith("reformatted ")]
    assert {f: f.read_bytes() for f in copy.rglob("*.kpi")} == formatted
    # The formatted frameworks still check as they did.
    assert runner.invoke(cli.main, ["check", "frameworks"]).exit_code == \
        runner.invoke(cli.main, ["check", str(ROOT / "frameworks")]).exit_code
