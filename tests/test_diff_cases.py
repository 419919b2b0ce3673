"""Golden cases for `kpidsl diff`: tests/cases/diff/<case>/runs.txt lists commands, expected/ their output.

Each line of runs.txt is `NAME EXIT ARGUMENTS`: `kpidsl ARGUMENTS`, run inside the case folder, must
exit with EXIT and print exactly expected/NAME. A case with a `repo/` folder is first turned into a
git repository (see git_case). Every figure in the expected files is worked by hand in NOTES.md.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES, compare_golden
from kpidsl import cli

DIFF_CASES = sorted(p for p in (CASES / "diff").iterdir() if (p / "runs.txt").is_file())


def runs(case: Path) -> list[tuple[str, int, list[str]]]:
    out = []
    for line in (case / "runs.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, code, *args = shlex.split(line)
            out.append((name, int(code), args))
    return out


def git_case(case: Path, into: Path) -> Path:
    """A git repository in `into` with one commit per folder of repo/ (in name order), then the working tree
    of repo/worktree/ on top, uncommitted; returns the repository."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z"}
    repo = into / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q")
    commits = sorted(p for p in (case / "repo").iterdir() if p.is_dir() and p.name != "worktree")
    for snapshot in commits:
        for old in repo.iterdir():
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        # Fresh timestamps: a file of the same size and time as the one before would look unchanged to git.
        shutil.copytree(snapshot, repo, dirs_exist_ok=True, copy_function=shutil.copyfile)
        git("add", "-A")
        git("commit", "-q", "-m", snapshot.name)
    worktree = case / "repo" / "worktree"
    if worktree.is_dir():
        shutil.copytree(worktree, repo, dirs_exist_ok=True, copy_function=shutil.copyfile)
    return repo


@pytest.mark.parametrize("case", DIFF_CASES, ids=[p.name for p in DIFF_CASES])
def test_diff_case(case, monkeypatch, tmp_path):
    assert (case / "NOTES.md").is_file(), "every case works its numbers out by hand in NOTES.md"
    if (case / "repo").is_dir():
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        monkeypatch.chdir(git_case(case, tmp_path))
    else:
        monkeypatch.chdir(case)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name, code, args in runs(case):
        result = CliRunner().invoke(cli.main, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code == code, (name, result.output)
        compare_golden(result.stdout, case / "expected" / name)
