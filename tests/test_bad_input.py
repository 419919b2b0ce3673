"""Hostile and broken input: always a diagnostic and a non-zero exit, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpidsl import cli
from kpidsl.pipeline import check_file
from kpidsl.semantic.resolve import Loader

ROOT = Path(__file__).parent.parent
HEAD = 'framework hostile "Hostile"\n'
MEASURE = HEAD + "measure x for people = "
N = 10_000

# Generous: each case takes well under a second; this only catches a hang or a blow-up.
SECONDS = 20


def _random_bytes(seed: int, size: int, allow_nul: bool) -> bytes:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(size))
    return data if allow_nul else data.replace(b"\x00", b"\x01")


# name -> (file content, the diagnostic code it must get, exit code)
CASES: dict[str, tuple[bytes, str, int]] = {
    "empty": (b"", "KPI009", 1),
    "only-blanks": (b"  \n\n\t\n", "KPI009", 1),
    "random-bytes": (_random_bytes(1, 4096, allow_nul=True), "KPI006", 2),
    "random-bytes-no-nul": (_random_bytes(2, 4096, allow_nul=False), "KPI005", 2),
    "invalid-utf8": (HEAD.encode() + b'measure x "caf\xe9" for people = 1\n', "KPI005", 2),
    "utf16": ('framework x "Đơn vị"\n'.encode("utf-16"), "KPI006", 2),
    "nul-byte": (HEAD.encode() + b"measure x for people = 1\x00\n", "KPI006", 2),
    "deep-parentheses": ((MEASURE + "(" * N + "1" + ")" * N + "\n").encode(), "KPI008", 1),
    "deep-brackets": ((MEASURE + "x in [" * N + "1" + "]" * N + "\n").encode(), "KPI008", 1),
    "deep-minus": ((MEASURE + "- " * N + "1\n").encode(), "KPI008", 1),
    "deep-minus-unspaced": ((MEASURE + "-" * N + "x\n").encode(), "KPI008", 1),
    "deep-not": ((MEASURE + "not " * N + "true\n").encode(), "KPI008", 1),
    "deep-if": ((MEASURE + "if true then 1 else " * N + "1\n").encode(), "KPI008", 1),
    "deep-if-condition": ((MEASURE + "if " * N + "true\n").encode(), "KPI003", 1),
    "deep-groups": ((HEAD + "score s for people {" + "group g points 100 {" * N + "}" * (N + 1)).encode(),
                    "KPI008", 1),
    # The syntax error is met before the tree's depth is measured.
    "deep-then-error": ((MEASURE + "- " * N + "1 1\n").encode(), "KPI001", 1),
    "unterminated-string": (HEAD.encode() + b'measure x "never closed for people = 1\n', "KPI002", 1),
    "unterminated-header-string": (b'framework x "Title\n', "KPI002", 1),
    "header-only-keyword": (b"framework\n", "KPI003", 1),
    "not-a-framework": (b"SELECT * FROM people;\n", "KPI017", 1),
    "control-character": (HEAD.encode() + b"measure x for people = 1 \x1b[2J\n", "KPI004", 1),
}


def run_check(runner: CliRunner, *args: str):
    start = time.perf_counter()
    result = runner.invoke(cli.main, ["check", "--format", "json", *args])
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    # CliRunner keeps any exception the command raised; only a plain exit is acceptable.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    return result, json.loads(result.stdout)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_file_gets_a_diagnostic(runner, tmp_path, monkeypatch, name):
    data, code, exit_code = CASES[name]
    monkeypatch.chdir(tmp_path)
    Path("bad.kpi").write_bytes(data)
    result, doc = run_check(runner, "bad.kpi")
    codes = [d["code"] for d in doc["diagnostics"]]
    assert code in codes, codes
    assert result.exit_code == exit_code


def test_human_output_of_bad_bytes_is_printable(runner, tmp_path, monkeypatch):
    """Escape sequences and control bytes from a file never reach the terminal."""
    monkeypatch.chdir(tmp_path)
    Path("bad.kpi").write_bytes(CASES["control-character"][0])
    Path("junk.kpi").write_bytes(b"framework x\n\x1b]0;pwned\x07" + b"A" * 50)
    result = runner.invoke(cli.main, ["check", "bad.kpi", "junk.kpi"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "KPI004" in result.output
    # Forced colour keeps kpidsl's own escapes only; the label's ESC is quoted in the message.
    Path("label.kpi").write_bytes(b'framework x "c"\nmeasure "a\x1b[2Jb" for people = 1\n')
    coloured = runner.invoke(cli.main, ["check", "--color", "label.kpi"])
    assert "KPI001" in coloured.output
    assert "\x1b[2J" not in coloured.output


def test_long_line_shows_the_caret_within_the_excerpt(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("long.kpi").write_text(MEASURE + "1 + " * 300 + "1 1\n", encoding="utf-8")
    result = runner.invoke(cli.main, ["check", "long.kpi"])
    assert result.exit_code == 1
    head, excerpt, caret = result.stdout.splitlines()[:3]
    assert head.startswith("long.kpi:2:1226: error[KPI001]")  # the second `1` of `1 1`
    assert len(excerpt) < 260
    assert excerpt[caret.index("^")] == "1"


def test_ten_thousand_operands_are_accepted_or_rejected_cleanly(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for op in ("+", "*", "and", "or"):
        operand = "true" if op in ("and", "or") else "1"
        Path("wide.kpi").write_text(MEASURE + f" {op} ".join([operand] * N) + "\n", encoding="utf-8")
        result, doc = run_check(runner, "wide.kpi")
        assert result.exit_code in (0, 1)
        assert all(d["code"].startswith("KPI") for d in doc["diagnostics"])


def test_oversized_file(runner, tmp_path, monkeypatch):
    """20 MB of plausible text is refused by its size before anything reads it all."""
    monkeypatch.chdir(tmp_path)
    line = b"measure m for people = count(tasks where kind = unexpected) + 1\n"
    with open("huge.kpi", "wb") as fh:
        fh.write(HEAD.encode())
        fh.write(line * (20 * 1024 * 1024 // len(line) + 1))
    assert os.path.getsize("huge.kpi") > 20 * 1024 * 1024
    result, doc = run_check(runner, "huge.kpi")
    assert [d["code"] for d in doc["diagnostics"]] == ["KPI007"]
    assert result.exit_code == 2


def test_truncated_real_framework(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "frameworks" / "central" / "central.kpi").read_text(encoding="utf-8")
    half = text[: len(text) // 2]
    # Cut inside a line, so the text cannot end on a complete declaration.
    half = half.rstrip() + " {" if half.endswith("\n") else half
    Path("half.kpi").write_text(half, encoding="utf-8")
    result, doc = run_check(runner, "half.kpi")
    assert result.exit_code == 1
    assert {d["code"] for d in doc["diagnostics"]} & {"KPI001", "KPI002", "KPI003", "KPI004"}


def test_truncated_in_the_middle_of_a_score(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cut.kpi").write_text(HEAD + "score s for people {\n  criterion c points 100 = 1\n", encoding="utf-8")
    result, doc = run_check(runner, "cut.kpi")
    assert result.exit_code == 1
    [diag] = doc["diagnostics"]
    assert (diag["code"], diag["line"]) == ("KPI003", 3)


def test_file_that_uses_itself(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("self.kpi").write_text('framework me "Me"\nuse "self.kpi"\n', encoding="utf-8")
    Path("a.kpi").write_text('framework a "A"\nuse "b.kpi"\n', encoding="utf-8")
    Path("b.kpi").write_text('framework b "B"\nuse "a.kpi"\n', encoding="utf-8")
    result, doc = run_check(runner, "self.kpi", "a.kpi")
    assert result.exit_code == 1
    found = {(d["file"], d["line"], d["code"]) for d in doc["diagnostics"]}
    assert ("self.kpi", 2, "KPI012") in found
    assert ("b.kpi", 2, "KPI012") in found


def test_folder_without_framework_files(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    Path("empty", "notes.txt").write_text("not a framework", encoding="utf-8")
    result, doc = run_check(runner, "empty")
    assert result.exit_code == 2
    assert [(d["code"], d["file"]) for d in doc["diagnostics"]] == [("KPI010", "empty")]


def test_folder_named_like_a_framework_file(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.kpi").mkdir()
    result, doc = run_check(runner, "x.kpi")
    assert result.exit_code == 2
    assert [d["code"] for d in doc["diagnostics"]] == ["KPI010"]
    # Used from a framework, the folder is a finding in that framework.
    Path("main.kpi").write_text('framework m "M"\nuse "x.kpi"\n', encoding="utf-8")
    result, doc = run_check(runner, "main.kpi")
    assert result.exit_code == 1
    assert [(d["code"], d["message"]) for d in doc["diagnostics"]] == [("KPI011", "used file `x.kpi` is a folder")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_named_pipe_is_not_read(runner, tmp_path, monkeypatch):
    """Opening a pipe with no writer would block forever."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.kpi")
    result, doc = run_check(runner, "pipe.kpi")
    assert result.exit_code == 2
    assert [d["code"] for d in doc["diagnostics"]] == ["KPI010"]


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root reads any file")
def test_unreadable_file(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("secret.kpi").write_text(HEAD, encoding="utf-8")
    os.chmod("secret.kpi", 0)
    result, doc = run_check(runner, "secret.kpi")
    assert result.exit_code == 2
    assert [d["code"] for d in doc["diagnostics"]] == ["KPI010"]


# ---------------------------------------------------------------- a real process

@pytest.mark.parametrize("name", ["random-bytes", "deep-not", "deep-if", "deep-parentheses"])
def test_subprocess_check(tmp_path, name):
    data, code, exit_code = CASES[name]
    (tmp_path / "bad.kpi").write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "kpidsl", "check", "bad.kpi"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert proc.returncode == exit_code, proc.stderr
    assert f"[{code}]".encode() in proc.stdout
    assert b"Traceback" not in proc.stdout + proc.stderr


def test_subprocess_oversized(tmp_path):
    with open(tmp_path / "huge.kpi", "wb") as fh:
        fh.write(b"# " + b"x" * (20 * 1024 * 1024) + b"\n")
    proc = subprocess.run([sys.executable, "-m", "kpidsl", "check", "huge.kpi"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"[KPI007]" in proc.stdout
    assert b"Traceback" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- token soup

_WORDS = ["framework", "score", "criterion", "group", "measure", "scale", "rating", "input", "use",
          "extends", "extend", "for", "people", "units", "points", "weight", "=", "{", "}", "(", ")",
          "[", "]", ",", ".", "->", ">=", "<", "+", "-", "*", "/", "not", "and", "or", "if", "then",
          "else", "in", "is", "missing", "where", "sum", "count", "share", "bands", "linear", "target",
          "x", "y", "tasks", "coefficient", "1", "0.5", "25%", "1/3", '"label"', "2025-07-01", "locked",
          "\n", "#c\n", "true", "none", "\u00e9", "\t"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS), max_size=60))
def test_token_soup_never_crashes(words):
    """Any arrangement of the language's own words yields diagnostics, never an exception."""
    text = 'framework soup "Soup"\n' + " ".join(words)
    loader = Loader(overrides={"soup.kpi": text.encode()})
    _, diags = check_file("soup.kpi", loader)
    assert all(d.code.startswith("KPI") for d in diags)


def test_a_very_long_use_chain_is_refused_not_a_recursion_error(tmp_path):
    from kpidsl.pipeline import check_paths

    for i in range(300):
        (tmp_path / f"f{i}.kpi").write_text(f'framework f{i}\nuse "f{i + 1}.kpi"\n', encoding="utf-8")
    (tmp_path / "f300.kpi").write_text("framework f300\n", encoding="utf-8")
    report = check_paths([str(tmp_path / "f0.kpi")])
    assert [d.code for d in report.diagnostics if d.is_error] == ["KPI015"]
    assert "64 files deep" in report.diagnostics[0].message
