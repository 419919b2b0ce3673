"""`kpidsl diff`: exit codes, sides that cannot be read, run folders, hostile text, the Markdown limit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES
from kpidsl import cli
from kpidsl.versions.diff import diff
from kpidsl.versions.render import render_markdown

WEIGHTS = CASES / "diff" / "weights-threshold"
ROOT = Path(__file__).parent.parent


def kpidsl(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.kpi", "b.kpi"):
        shutil.copy(WEIGHTS / name, tmp_path / name)
    return tmp_path


# ---------------------------------------------------------------- exit codes

def test_changes_exit_0_unless_asked(here):
    assert kpidsl("diff", "a.kpi", "b.kpi").exit_code == 0
    assert kpidsl("diff", "a.kpi", "b.kpi", "--exit-code").exit_code == 1
    assert kpidsl("diff", "a.kpi", "a.kpi", "--exit-code").exit_code == 0


def test_errors_in_new_exit_1_and_the_diff_is_still_shown(here):
    text = (here / "b.kpi").read_text(encoding="utf-8").replace("weight 30% = c", "weight 20% = c")
    (here / "c.kpi").write_text(text, encoding="utf-8")
    result = kpidsl("diff", "a.kpi", "c.kpi")
    assert result.exit_code == 1
    assert "~ results.c_timeliness" in result.stdout
    assert "NEW has 1 error and 0 warnings from `kpidsl check`:" in result.stdout
    assert "error[KPI040]: weights of group `results` sum to 90%, not 100%" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["nowhere.kpi", "b.kpi"], "kpidsl: nowhere.kpi: no such file or folder, and not REV:PATH\n"),
    (["a.kpi", "b.kpi", "--only", "money"], "'money' is not a change class"),
    (["a.kpi", "b.kpi", "--include", "everything"], "'everything' cannot be included"),
])
def test_usage_and_input_errors_exit_2(here, args, message):
    result = kpidsl("diff", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_side_that_does_not_parse_exits_2_with_its_diagnostics(here):
    (here / "bad.kpi").write_text('framework demo "x"\nscore s for people {\n', encoding="utf-8")
    for args in (["a.kpi", "bad.kpi"], ["bad.kpi", "b.kpi"]):
        result = kpidsl("diff", *args)
        assert result.exit_code == 2
        assert "bad.kpi:2:21: error[KPI003]" in result.stderr
        assert "does not resolve" in result.stderr
        assert result.stdout == ""


def test_different_framework_ids_are_compared_with_a_warning(here):
    text = (here / "b.kpi").read_text(encoding="utf-8").replace("framework demo", "framework other")
    (here / "c.kpi").write_text(text, encoding="utf-8")
    result = kpidsl("diff", "a.kpi", "c.kpi")
    assert result.exit_code == 0
    assert result.stdout.startswith("warning: the sides are different frameworks: `demo` and `other`\n")


# ---------------------------------------------------------------- classes and includes

def test_labels_are_cosmetic_and_hidden_unless_included(here):
    text = (here / "a.kpi").read_text(encoding="utf-8").replace('"Quality"', '"Chất lượng"')
    (here / "c.kpi").write_text(text, encoding="utf-8")
    result = kpidsl("diff", "a.kpi", "c.kpi", "--exit-code")
    assert result.exit_code == 0
    assert "no semantic change; 1 cosmetic hidden" in result.stdout
    result = kpidsl("diff", "a.kpi", "c.kpi", "--include", "labels", "--exit-code")
    assert result.exit_code == 1
    assert 'label "Quality" → "Chất lượng"' in result.stdout


def test_tests_are_compared_only_when_included(here):
    text = (here / "a.kpi").read_text(encoding="utf-8")
    (here / "t.kpi").write_text(text + '\ntest "t" {\n  period 2025-Q1\n  expect person p1 score = 1\n}\n',
                                encoding="utf-8")
    assert kpidsl("diff", "a.kpi", "t.kpi", "--exit-code").exit_code == 0
    result = kpidsl("diff", "a.kpi", "t.kpi", "--include", "tests", "--exit-code")
    assert result.exit_code == 1
    assert '+ "t"' in result.stdout


def test_a_changed_measure_lists_what_it_reaches_with_the_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    central = (ROOT / "frameworks" / "central" / "central.kpi").read_text(encoding="utf-8")
    (tmp_path / "a.kpi").write_text(central, encoding="utf-8")
    changed = central.replace("sum(tasks.coefficient where finished is not missing less 25% per delays",
                              "sum(tasks.coefficient where finished is not missing less 50% per delays")
    (tmp_path / "b.kpi").write_text(changed, encoding="utf-8")
    out = json.loads(kpidsl("diff", "a.kpi", "b.kpi", "--format", "json").stdout)
    [change] = out["frameworks"][0]["changes"]
    assert change["key"] == "measure completed_on_time" and change["classes"] == ["credit"]
    reached = {a["key"]: (a["what"], a["points"]) for a in change["affects"]}
    # c_timeliness weighs 1/3 of staff's 70 points and 1/6 of the leaders' 70; excellent needs on_time_share.
    assert reached["score staff / c_timeliness"] == ("points (through timeliness_ratio)",
                                                     {"decimal": "23.333333333333", "exact": "70/3"})
    assert reached["score leader / c_timeliness"][1] == {"decimal": "11.666666666667", "exact": "35/3"}
    assert reached["rating national / level excellent"] == ("condition (through on_time_share)", None)
    assert reached["rating leader_national / level excellent"][0] == "condition (through on_time_share)"
    assert {"measure timeliness_ratio", "measure on_time_share"} <= set(reached)
    assert "score staff / a_quantity" not in reached


def test_a_renamed_criterion_is_two_changes_with_a_hint(here):
    text = (here / "a.kpi").read_text(encoding="utf-8").replace("criterion b_quality", "criterion quality")
    (here / "c.kpi").write_text(text, encoding="utf-8")
    out = json.loads(kpidsl("diff", "a.kpi", "c.kpi", "--format", "json").stdout)["frameworks"][0]
    actions = {c["key"]: (c["action"], c["hint"]) for c in out["changes"]}
    assert actions == {"score staff / quality": ("add", "renamed? it means what `b_quality` meant"),
                       "score staff / b_quality": ("remove", "renamed? `quality` means what it meant")}
    # Both change the shares of `results`: one bundle.
    assert [b["edits"] for b in out["bundles"]] == [["E1", "E2"]]


def test_scores_tried_in_another_order_are_a_population_change(here):
    text = (here / "a.kpi").read_text(encoding="utf-8")
    second = text[text.index('score staff'):text.index('rating grades "Grades"')].replace(
        "score staff", "score seniors").replace("for people {", "for people where general_points > 20 {")
    (here / "two.kpi").write_text(text + "\n" + second, encoding="utf-8")
    head, tail = text.split('score staff "Staff"', 1)
    swapped = head + second + '\nscore staff "Staff"' + tail
    (here / "swapped.kpi").write_text(swapped, encoding="utf-8")
    out = json.loads(kpidsl("diff", "two.kpi", "swapped.kpi", "--format", "json").stdout)["frameworks"][0]
    fields = {c["key"]: (c["classes"], c["fields"]) for c in out["changes"]}
    assert fields["score staff"] == (["population"], {"after": {"old": "none", "new": "seniors"}})
    assert fields["score seniors"] == (["population"], {"after": {"old": "staff", "new": "none"}})


# ---------------------------------------------------------------- run folders

def test_a_run_folder_is_diffed_from_the_sources_it_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unit = ROOT / "frameworks" / "units" / "administration.kpi"
    assert kpidsl("run", str(unit), "--data", str(ROOT / "examples" / "quarter-2025-Q4"), "--period", "2025-Q4",
                  "--out", "run").exit_code == 0
    result = kpidsl("diff", "run", str(unit), "--exit-code")
    assert result.exit_code == 0, result.output
    assert "no semantic change" in result.stdout
    # The run does not need the repository: the copy alone is compared.
    copy = tmp_path / "moved"
    shutil.copytree("run", copy)
    assert kpidsl("diff", str(copy), "run", "--exit-code").exit_code == 0
    # A kept source edited after the run no longer matches the manifest: refused.
    kept = copy / "evidence" / "sources" / "central" / "central.kpi"
    kept.write_text(kept.read_text(encoding="utf-8").replace(">= 95%", ">= 90%"), encoding="utf-8")
    result = kpidsl("diff", str(copy), "run")
    assert result.exit_code == 2
    assert "changed since the run (its hash differs from the manifest's)" in result.stderr


def test_a_manifest_naming_a_file_outside_the_sources_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unit = ROOT / "frameworks" / "units" / "administration.kpi"
    assert kpidsl("run", str(unit), "--data", str(ROOT / "examples" / "quarter-2025-Q4"), "--period", "2025-Q4",
                  "--out", "run").exit_code == 0
    manifest = json.loads(Path("run/manifest.json").read_text(encoding="utf-8"))
    manifest["framework"]["files"][0]["source"] = "evidence/sources/../../../outside.kpi"
    Path("run/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = kpidsl("diff", "run", str(unit))
    assert result.exit_code == 2
    assert "names a framework file outside evidence/sources/" in result.stderr


def test_a_run_folder_without_sources_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unit = ROOT / "frameworks" / "units" / "administration.kpi"
    assert kpidsl("run", str(unit), "--data", str(ROOT / "examples" / "quarter-2025-Q4"), "--period", "2025-Q4",
                  "--out", "run").exit_code == 0
    manifest = json.loads(Path("run/manifest.json").read_text(encoding="utf-8"))
    for f in manifest["framework"]["files"]:
        f.pop("source")
    Path("run/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = kpidsl("diff", "run", str(unit))
    assert result.exit_code == 2
    assert "this run did not keep its framework files (evidence/sources/)" in result.stderr


# ---------------------------------------------------------------- git

@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_sides_outside_a_repository_or_leaving_the_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(WEIGHTS / "a.kpi", "a.kpi")
    result = kpidsl("diff", "HEAD:a.kpi", "a.kpi")
    assert result.exit_code == 2
    assert "not in a git repository" in result.stderr
    # A `use` that leaves the revision's tree is a missing file there, never a file read from disk.
    (tmp_path / "outside.kpi").write_text('framework outside "Outside"\n', encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "x.kpi").write_text('framework x "X"\nuse "../outside.kpi"\n', encoding="utf-8")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for args in (["init", "-q"], ["add", "x.kpi"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env={**env, "PATH": "/usr/bin:/bin"})
    monkeypatch.chdir(repo)
    result = kpidsl("diff", "HEAD:x.kpi", "x.kpi")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr or "outside the revision" in result.stderr
    result = kpidsl("diff", "--", "-HEAD:x.kpi", "x.kpi")
    assert result.exit_code == 2


# ---------------------------------------------------------------- hostile text and the Markdown limit

def test_markup_in_labels_is_neutralised(here):
    # Control characters cannot reach a label (a file holding them is refused before parsing); markup can.
    text = (here / "a.kpi").read_text(encoding="utf-8").replace(
        '"Quality"', '"<script>alert(1)</script> | **bold** `x`"')
    (here / "c.kpi").write_text(text, encoding="utf-8")
    result = kpidsl("diff", "a.kpi", "c.kpi", "--include", "labels")
    assert result.exit_code == 0 and "<script>alert(1)</script>" in result.stdout  # a terminal shows it as text
    markdown = kpidsl("diff", "a.kpi", "c.kpi", "--include", "labels", "--format", "markdown").stdout
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "\\*\\*bold\\*\\*" in markdown and "\\`x\\`" in markdown and "\\|" in markdown


def test_markdown_fits_a_github_comment_and_never_quotes_test_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    criteria = "\n".join(f'    criterion c{i} "C{i}" points 1 = a scored percent' for i in range(100))
    head = (WEIGHTS / "a.kpi").read_text(encoding="utf-8").split("score staff")[0]
    for name, points in (("a.kpi", 1), ("b.kpi", 2)):
        groups = "\n".join(f'  group g{k} "G{k}" points {100 // 20} {{\n' + criteria.replace("points 1", f"points {points}")
                           + "\n  }" for k in range(20))
        (tmp_path / name).write_text(head + 'score staff "Staff" for people {\n' + groups + "\n}\n"
                                     'test "private" {\n  period 2025-Q3\n  given units [unit_id] {\n'
                                     f'    [secret_{name[0]}]\n  }}\n}}\n', encoding="utf-8")
    result = diff("a.kpi", "b.kpi", include={"tests"})
    try:
        text = render_markdown(result)
    finally:
        result.close()
    assert len(text) <= 65_536
    assert "cut here to fit a GitHub comment" in text
    assert "secret_" not in text


def test_the_github_format_also_writes_the_step_summary(here, monkeypatch):
    summary = here / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = kpidsl("diff", "a.kpi", "b.kpi", "--format", "github")
    assert result.exit_code == 0
    assert result.stdout.count("::notice file=b.kpi,") == 4
    assert summary.read_text(encoding="utf-8").startswith("### kpidsl diff: 2 edits in 1 framework")


def test_the_guide_shows_the_diff_as_kpidsl_prints_it():
    guide = (ROOT / "docs" / "versions.md").read_text(encoding="utf-8")
    shown = guide.split("$ kpidsl diff a.kpi b.kpi\n", 1)[1].split("```", 1)[0]
    assert shown == (WEIGHTS / "expected" / "text.out").read_text(encoding="utf-8")


def test_the_workflow_example_runs_the_commands_the_docs_describe():
    workflow = (ROOT / "examples" / "github" / "rules-diff.yml").read_text(encoding="utf-8")
    assert 'kpidsl diff "$BASE:frameworks/" frameworks/ --format markdown > rules-diff.md' in workflow
    assert 'kpidsl diff "$BASE:frameworks/" frameworks/ --format github' in workflow
    assert "--body-file rules-diff.md" in workflow and "pull-requests: write" in workflow
