"""docs/diagnostics.md against kpidsl/diagnostics/codes.py: every code documented with a message as kpidsl prints it, and tested."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES, ROOT
from kpidsl import cli
from kpidsl.diagnostics.codes import CODES

DOC = ROOT / "docs" / "diagnostics.md"
HERE = Path(__file__).name

# A rendered diagnostic: its head, then the source line, the caret, notes and help (indented or `N | `).
HEAD = re.compile(r"^(\S+):(\d+):(\d+): (error|warning)\[(KPI\d{3})\]: (.*)$")
FOLLOW = re.compile(r"^(\d+ \| |\s)")

# Codes about a file as a whole: their sections describe the situation, there is no wrong text to show.
WHOLE_FILE = {"KPI005", "KPI006", "KPI007", "KPI010", "KPI015"}
# Reported by `kpidsl test` or `kpidsl run` on a scored framework, not by `kpidsl check`;
# tests/test_testing.py and tests/test_run_cli.py pin their messages.
NOT_FROM_CHECK = {"KPI096", "KPI097"}


def rendered_blocks(text: str) -> list[str]:
    """Each rendered diagnostic in `text`, head and following lines; other lines end a block."""
    out: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if HEAD.match(line):
            current = [line]
            out.append(current)
        elif current is not None and FOLLOW.match(line):
            current.append(line)
        else:
            current = None
    return ["\n".join(b) for b in out]


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def sections() -> dict[str, tuple[str, str, str]]:
    """`### KPIxxx` -> (severity, title, body up to the next heading)."""
    # Split at headings outside code blocks: a `# comment` in an example is not a heading.
    parts: list[list[str]] = [[]]
    fenced = False
    for line in doc_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            parts.append([])
        parts[-1].append(line)
    out: dict[str, tuple[str, str, str]] = {}
    for part in parts:
        m = re.match(r"### (KPI\d{3})\n\n\*\*(.+?)\*\* \((\w+)\)\n", "\n".join(part) + "\n")
        if m:
            assert m[1] not in out, f"{m[1]} has two sections"
            out[m[1]] = (m[3], m[2], "\n".join(part)[m.end():])
    return out


def text_fences(body: str) -> list[str]:
    return re.findall(r"^```text\n(.*?)\n```$", body, re.S | re.M)


def golden_blocks() -> set[str]:
    return {b for p in (CASES / "check").glob("*/expected.out") for b in rendered_blocks(p.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def whole_file_output(tmp_path_factory) -> str:
    """`kpidsl check` on the file-level situations the doc describes in words, built as it says."""
    folder = tmp_path_factory.mktemp("whole-file")
    # Saved as Windows-1258, where `Đ` is the byte 0xd0.
    (folder / "windows.kpi").write_bytes('framework demo "Đánh giá"\n'.encode("cp1258"))
    # Saved as UTF-16 with its byte order mark, as Windows editors write it.
    (folder / "notepad.kpi").write_bytes(b"\xff\xfe" + 'framework demo "Đánh giá cán bộ"\n'.encode("utf-16-le"))
    head = b'framework demo "Huge"\n'
    (folder / "huge.kpi").write_bytes(head + b"#" * (2_000_000 - len(head) - 1) + b"\n")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "notes.txt").write_text("not a framework\n", encoding="utf-8")
    uses = []
    for i in range(1, 2001):
        (folder / f"part{i:04}.kpi").write_text(f'framework part{i:04} "Part {i}"\n', encoding="utf-8")
        uses.append(f'use "part{i:04}.kpi"\n')
    (folder / "main.kpi").write_text('framework demo "Too many files"\n\n' + "".join(uses), encoding="utf-8")
    assert (folder / "huge.kpi").stat().st_size == 2_000_000
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = CliRunner().invoke(cli.main, ["check", "--no-cache", "windows.kpi", "notepad.kpi", "huge.kpi",
                                               "nowhere.kpi", "drafts", "main.kpi"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.stdout


# ---------------------------------------------------------------- the doc lists exactly the codes

def test_every_code_has_a_section_with_its_severity_and_title():
    found = {code: (severity, title) for code, (severity, title, _) in sections().items()}
    assert found == CODES


def test_the_table_lists_every_code_with_its_severity_and_title():
    rows = re.findall(r"^\| \[(KPI\d{3})\]\(#(kpi\d{3})\) \| (\w+) \| (.+?) \|$", doc_text(), re.M)
    assert all(code.lower() == anchor for code, anchor, _, _ in rows)
    assert [code for code, *_ in rows] == sorted(CODES)
    assert {code: (severity, title) for code, _, severity, title in rows} == CODES


def test_the_doc_names_no_code_that_does_not_exist():
    named = set(re.findall(r"KPI\d{3}", doc_text()))
    assert named - set(CODES) == set()


# ---------------------------------------------------------------- each section is complete

@pytest.mark.parametrize("code", sorted(CODES))
def test_section_shows_the_message_and_the_fix(code):
    severity, _, body = sections()[code]
    assert "No example yet" not in body
    assert "Fixed" in body, f"{code}: no fixed version"
    if code not in WHOLE_FILE:
        assert "Wrong" in body, f"{code}: no wrong example"
    fences = text_fences(body)
    assert fences, f"{code}: no message shown"
    for fence in fences:
        blocks = rendered_blocks(fence)
        # Nothing but rendered diagnostics, each of this section's code and severity.
        assert "\n".join(blocks) == fence, f"{code}: not a rendered diagnostic:\n{fence}"
        for block in blocks:
            head = HEAD.match(block.splitlines()[0])
            assert (head[5], head[4]) == (code, severity), block


def test_messages_are_exactly_what_kpidsl_check_prints(whole_file_output):
    """Each message shown is a golden case's output, or what the situations described in words give."""
    printed = golden_blocks() | set(rendered_blocks(whole_file_output))
    shown = [(code, block) for code, (_, _, body) in sections().items() if code not in NOT_FROM_CHECK
             for fence in text_fences(body) for block in rendered_blocks(fence)]
    assert len(shown) > len(CODES)
    stale = [f"{code}:\n{block}" for code, block in shown if block not in printed]
    assert not stale, "messages that kpidsl check does not print:\n\n" + "\n\n".join(stale)


def test_whole_file_situations_give_their_codes(whole_file_output):
    heads = [HEAD.match(b.splitlines()[0]) for b in rendered_blocks(whole_file_output)]
    assert sorted((h[1], h[5]) for h in heads) == sorted([
        ("windows.kpi", "KPI005"), ("notepad.kpi", "KPI006"), ("huge.kpi", "KPI007"),
        ("nowhere.kpi", "KPI010"), ("drafts", "KPI010"), ("main.kpi", "KPI015")])


# ---------------------------------------------------------------- each code is tested

def test_every_code_is_produced_by_a_golden_case_or_a_test(whole_file_output):
    golden = {HEAD.match(b.splitlines()[0])[5] for b in golden_blocks()}
    tests = Path(__file__).parent
    named_in_tests = {code for p in tests.glob("*.py") if p.name != HERE
                      for code in re.findall(r"KPI\d{3}", p.read_text(encoding="utf-8"))}
    produced_here = {HEAD.match(b.splitlines()[0])[5] for b in rendered_blocks(whole_file_output)}
    untested = set(CODES) - golden - named_in_tests - produced_here
    assert not untested, f"no golden case or test produces {sorted(untested)}"
