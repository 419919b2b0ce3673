"""`kpidsl explain`: the score tree, rating steps and the way to the next rating, read from a run's files."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import __version__, cli, pipeline
from kpidsl.output.explain import _invert
from results_fixture import fake_scorer, write_inputs

# Worked out by hand from results_fixture (p1: 27.00 + 21.00 + 22.40 = 70.40). The next level, top, needs 90:
# 19.60 points. Done has the most room (42 - 21 = 21 points): 21.00 + 19.60 = 40.60 of 42 is credit
# 96.666…, which the percent scale gives from a share of 0.96666…; quality (room 28 - 22.40 = 5.60) and
# general (room 30 - 27 = 3) cannot close the gap alone: 19.60 - 5.60 = 14.00 and 19.60 - 3 = 16.60 short.
P1 = f"""\
fx 1.0 · period 2025-Q3 · kpidsl {__version__}

person Nguyễn Văn An (p1) · score staff "Staff"  (fx.kpi:34)
  status ok · score 70.40 of 100 · rating good "Good" · unit Unit one (u1)

  score 70.40 = general 27.00 + results 43.40 + extra_work 0.00
    general "General": 27.00 of 30 points  (fx.kpi:35)
      value 27 = general_points
      scale raters (linear 0 -> 0, 30 -> 100 clamp): credit 90
      30 points × credit 90 / 100 → 27.00
    results "Results": 43.40 of 70 points  (fx.kpi:36)
      done "Done": 21.00 of 42 points  (fx.kpi:37)
        value 0.5 = done_share
          done_share = 0.5: share(tasks where done), 1 of 2 rows matched  (fx.kpi:27)
        scale percent (linear 0 -> 0, 1 -> 100 clamp): credit 50
        weight 60% of 70 points = 42 points × credit 50 / 100 → 21.00
      quality "Quality": 22.40 of 28 points  (fx.kpi:38)
        value 2 = errors
        scale fewer (linear 0 -> 100, 10 -> 0 clamp): credit 80
        weight 40% of 70 points = 28 points × credit 80 / 100 → 22.40
    bonus extra_work "Extra work": +0.00  (fx.kpi:40)
      value 0 = extra, at most 2

  rating grades
    level    good: when score >= 70  (fx.kpi:51)
    final    good "Good"

  next rating: top "Top" needs score >= 90
    19.60 points missing (score 70.40 now)
    criteria with the most room (each alone, the others unchanged):
      results.done "Done": 21.00 of 42 points, room 21.00: credit 96.6667 instead of 50 closes the gap; needs value >= 0.9667
      results.quality "Quality": 22.40 of 28 points, room 5.60: even full credit adds only 5.60 points; 14.00 short
      general "General": 27.00 of 30 points, room 3.00: even full credit adds only 3.00 points; 16.60 short
"""


def _run_folder(folder: Path, fake: bool, data: dict[str, str] | None = None) -> Path:
    """A run of fx.kpi in `folder` (results from the fixture, or from the engine), with data files replaced
    by `data`; returns the output folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        write_inputs(folder)
        for name, text in (data or {}).items():
            (folder / "data" / name).write_text(text, encoding="utf-8")
        if fake:
            mp.setattr(pipeline, "_score", fake_scorer())
        report = pipeline.run_framework("fx.kpi", "data", "2025-Q3", "out")
    assert report.outcome == "ok", (report.message, report.problems, report.diagnostics)
    return folder / "out"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return _run_folder(tmp_path_factory.mktemp("explain"), fake=True)


def explain(out: Path, *args: str):
    # Relative to the run's parent folder, as a user would type it.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(out.parent)
        return CliRunner().invoke(cli.main, ["explain", out.name, *args])


def test_the_score_as_a_tree_and_the_way_to_the_next_rating(out):
    result = explain(out, "--id", "p1")
    assert result.exit_code == 0, result.output
    assert result.stdout == P1


def test_the_engine_gives_the_same_explanation(tmp_path):
    engine_out = _run_folder(tmp_path, fake=False)
    result = explain(engine_out, "--id", "p1")
    assert result.exit_code == 0, result.output
    assert result.stdout == P1


def test_a_level_held_back_by_a_quota(out):
    text = explain(out, "--id", "p3").stdout
    assert """\
  rating grades
    level    top: when score >= 90  (fx.kpi:50)
    quota    top -> good: quota top at most 50% of good per unit resolve by score  (fx.kpi:53)
    final    good "Good"
  quota on top in group u1: 1 allowed, 2 held it; resolved by score: moved down one level

  next rating: top "Top" needs score >= 90
    the score 95.80 is enough; held back by:
      quota: quota top at most 50% of good per unit resolve by score (fx.kpi:53)
""" in text
    assert "done_share = 0.9: share(tasks where done), 9 of 10 rows matched  (fx.kpi:27)" in text


def test_the_best_level_and_results_without_a_score(out):
    p2 = explain(out, "--id", "p2").stdout
    assert "  quota on top in group u1: 1 allowed, 2 held it; resolved by score: kept\n" in p2
    assert p2.endswith("  next rating: already at the best level\n")
    p5 = explain(out, "--id", "p5").stdout
    assert "  status error · unit Unit one (u1)\n  reason: general_points is missing (missing fail)\n" in p5
    assert "next rating" not in p5 and "score" not in p5.split("\n", 3)[3]
    p6 = explain(out, "--id", "p6").stdout
    assert "person p6  (" not in p6 and "person p6\n  status not scored · unit Unit one (u1)\n" in p6
    assert "no score block's `where` holds for it" in p6


def test_an_unscored_criterion_of_a_unit(out):
    text = explain(out, "--id", "u1").stdout
    assert 'unit Unit one (u1) · score unit_score "Unit"  (fx.kpi:44)\n' in text
    assert "members_mean = 88.733333333333: mean(members.score), 3 rows  (fx.kpi:28)" in text
    assert "no scale: credit = value = 88.733333333333" in text
    assert "100 points × credit 88.733333333333 / 100 = 88.733333333333… → 88.73" in text


def test_json_follows_the_documented_schema(out):
    result = explain(out, "--id", "p1", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["version"], doc["framework"], doc["framework_version"], doc["period"], doc["engine_version"]) == \
        (2, "fx", "1.0", "2025-Q3", __version__)
    [r] = doc["results"]
    assert (r["entity"], r["id"], r["score_name"], r["status"], r["score"], r["total"], r["rating"]) == \
        ("people", "p1", "staff", "ok", "70.40", "100", "good")
    assert (r["name"], r["unit_name"]) == ("Nguyễn Văn An", "Unit one")  # version 2: the names shown
    assert [i["path"] for i in r["items"]] == ["general", "results", "extra_work"]
    done = r["items"][1]["children"][0]
    assert done == {
        "path": "results.done", "name": "done", "kind": "criterion", "label": "Done", "share": "weight 60%",
        "value": "0.5", "credit": "50", "weight": "0.6", "parent_budget": "70", "budget": "42", "exact": "21",
        "contribution": "21.00", "rounding_note": None, "missing_policy": None, "scale": "percent",
        "scale_text": "linear 0 -> 0, 1 -> 100 clamp", "expression": "done_share", "limit": None,
        "source": "fx.kpi:37", "children": [],
        "measures": [{"name": "done_share", "label": "Share of tasks done", "value": "0.5", "rows_total": 2,
                      "rows_matched": 1, "expression": "share(tasks where done)", "source": "fx.kpi:27",
                      "measures": []}]}
    assert r["rating_steps"] == [{"step": "level", "from_level": None, "to_level": "good",
                                  "reason": "when score >= 70", "source": "fx.kpi:51"}]
    nxt = r["next"]
    assert (nxt["level"], nxt["threshold"], nxt["op"], nxt["points_missing"]) == ("top", "90", ">=", "19.60")
    assert nxt["options"][0] == {
        "path": "results.done", "label": "Done", "contribution": "21.00", "budget": "42", "room": "21.00",
        "credit": "50", "credit_needed": "96.6667", "value": "0.5", "value_needed": "value >= 0.9667",
        "closes_gap": True, "note": "credit 96.6667 instead of 50 closes the gap"}
    assert [o["closes_gap"] for o in nxt["options"]] == [True, False, False]


def test_score_option_picks_one_result(out):
    assert explain(out, "--id", "u1", "--score", "unit_score").exit_code == 0
    wrong = explain(out, "--id", "u1", "--score", "unit_scor")
    assert wrong.exit_code == 2
    assert "u1 has no result for score 'unit_scor' (it has: unit_score)" in wrong.stderr
    assert "did you mean `unit_score`?" in wrong.stderr


def test_unknown_id_exits_2_with_a_suggestion(out):
    result = explain(out, "--id", "p11")
    assert result.exit_code == 2
    assert result.stderr == "kpidsl: no result for id 'p11' in out\n  help: did you mean `p1`?\n"
    upper = explain(out, "--id", "P3")
    assert upper.exit_code == 2 and "did you mean `p3`? (ids are matched exactly)" in upper.stderr


def test_a_folder_that_is_not_a_run(tmp_path):
    result = explain(tmp_path, "--id", "p1")
    assert result.exit_code == 2
    assert "no manifest.json; this is not the output folder of `kpidsl run`" in result.stderr
    missing = CliRunner().invoke(cli.main, ["explain", str(tmp_path / "nowhere"), "--id", "p1"])
    assert missing.exit_code == 2


def test_explain_reads_files_and_never_recomputes(out, monkeypatch):
    def no_engine(*args, **kwargs):
        raise AssertionError("explain must not score")

    monkeypatch.setattr(pipeline, "_score", no_engine)
    monkeypatch.setattr("kpidsl.scoring.score_period", no_engine)
    assert explain(out, "--id", "p1").exit_code == 0


# ---------------------------------------------------------------- inverting scales

PERCENT = {"kind": "linear", "points": [["0", "0"], ["1", "100"]], "clamp": True, "cap": None}
FEWER = {"kind": "linear", "points": [["0", "100"], ["10", "0"]], "clamp": True, "cap": None}


@pytest.mark.parametrize("scale, credit, wanted", [
    (PERCENT, 50, "value >= 0.5"),
    (PERCENT, 120, None),                                                    # clamp holds the end value
    ({**PERCENT, "clamp": False}, 120, "value >= 1.2"),                      # extrapolated
    ({**PERCENT, "clamp": False, "cap": "110"}, 120, None),                  # beyond the cap
    (FEWER, 80, "value <= 2"),                                               # lower is better
    (FEWER, 95, "value <= 0.5"),
    ({"kind": "linear", "points": [["0", "0"], ["0.5", "80"], ["1", "100"]], "clamp": True, "cap": None},
     90, "value >= 0.75"),                                                   # 0.5 + 10 / 20 × 0.5
    ({"kind": "linear", "points": [["0", "0"], ["3", "100"]], "clamp": True, "cap": None},
     Fraction(100, 3), "value >= 1"),
    ({"kind": "bands", "bands": [
        {"bounds": [[">=", "0.95"]], "points": "100", "else": False, "text": ">= 95% -> 100"},
        {"bounds": [[">=", "0.8"]], "points": "75", "else": False, "text": ">= 80% -> 75"},
        {"bounds": [], "points": "0", "else": True, "text": "else -> 0"}]}, 80, "band >= 95% -> 100"),
    ({"kind": "target", "target": "12", "cap": None}, 50, "value >= 6"),
    ({"kind": "target", "target": "reports_target", "cap": None}, 50, None),  # the target is in the data
    ({"kind": "levels", "levels": [["full", "100"], ["partial", "50"]]}, 40, "level partial"),
    ({"kind": "levels", "levels": [["full", "100"], ["partial", "50"]]}, 60, "level full"),
    ({"kind": "pass", "passed": "100", "failed": "0"}, 100, "true"),
    (None, Fraction(290, 3), "value >= 96.6667"),                            # unscored: credit = value
])
def test_invert(scale, credit, wanted):
    assert _invert(scale, Fraction(credit)) == wanted


def test_a_bonus_through_the_engine(tmp_path):
    # p4: 20 of 30 raters' points -> credit 66.67 -> 20.00; no task -> done 0 -> 0.00; no error -> 28.00;
    # extra work 3, at most 2 -> +2.00; 20 + 0 + 28 + 2 = 50.00, below good's 70: low.
    out = _run_folder(tmp_path, fake=False, data={
        "people.csv": "person_id,unit_id,role,general_points,errors,extra\np1,u1,staff,27,2,0\np4,u1,staff,20,0,3\n",
        "tasks.csv": "task_id,person_id,due,done\nt1,p1,2025-07-10,true\n"})
    result = explain(out, "--id", "p4")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "  score 50.00 = general 20.00 + results 28.00 + extra_work 2.00\n" in text
    assert '    bonus extra_work "Extra work": +2.00  (fx.kpi:40)\n      value 3 = extra, at most 2\n' in text
    assert "    level    low: otherwise  (fx.kpi:52)\n" in text
    assert "    20.00 points missing (score 50.00 now)\n" in text


def test_a_missing_value_that_drops_out(tmp_path):
    # As if p1's error count were missing under `missing renormalise`: quality drops out and done,
    # declared 60%, takes the group's whole budget: 70 × 50 / 100 = 35.00.
    def missing_quality(con):
        con.execute("UPDATE results.items SET value = NULL, credit = NULL, weight = NULL, budget = NULL, "
                    "contribution = NULL, missing_policy = 'renormalise' WHERE id = 'p1' AND path = 'results.quality'")
        con.execute("UPDATE results.items SET weight = 1, budget = 70, contribution = 35.00 "
                    "WHERE id = 'p1' AND path = 'results.done'")

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        write_inputs(tmp_path)
        mp.setattr(pipeline, "_score", fake_scorer(missing_quality))
        assert pipeline.run_framework("fx.kpi", "data", "2025-Q3", "out").outcome == "ok"
    text = explain(tmp_path / "out", "--id", "p1").stdout
    assert "        weight 60%, re-normalised to 1, of 70 points = 70 points × credit 50 / 100 → 35.00\n" in text
    assert """\
      quality "Quality": no points (missing)  (fx.kpi:38)
        value missing = errors
        value missing: policy renormalise, it drops out, and the other items of its block share its weight
        scale fewer (linear 0 -> 100, 10 -> 0 clamp): credit -
""" in text


def test_damaged_evidence_is_reported_not_a_traceback(out, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "evidence" / "entities.parquet").write_bytes(b"not parquet")
    result = explain(copy, "--id", "p1")
    assert result.exit_code == 2
    assert result.stderr.startswith("kpidsl: copy was altered after the run: evidence/entities.parquet (changed) "
                                    "does not match its manifest\n")
    (copy / "evidence" / "framework.json").write_text("{", encoding="utf-8")
    assert "evidence/framework.json (changed)" in explain(copy, "--id", "p1").stderr


def test_explained_in_vietnamese(out):
    result = explain(out, "--id", "p1", "--lang", "vi")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("fx 1.0 · kỳ 2025-Q3 · kpidsl ")
    assert ("cá nhân Nguyễn Văn An (p1) · khối chấm điểm staff \"Staff\"  (fx.kpi:34)\n"
            "  trạng thái đã chấm · điểm 70,40/100 · xếp loại good \"Good\" · đơn vị Unit one (u1)\n") in text
    assert "      weight 60% của 70 điểm = 42 điểm × mức đạt 50 / 100 → 21,00\n" in text
    assert "  mức xếp loại cao hơn: top \"Top\" cần điểm >= 90\n    còn thiếu 19,60 điểm (hiện có 70,40)\n" in text
    json_doc = json.loads(explain(out, "--id", "p1", "--format", "json", "--lang", "vi").stdout)
    assert json_doc["results"][0]["score"] == "70.40"  # numbers in JSON stay machine-readable
    assert json_doc["results"][0]["next"]["options"][0]["note"] == "mức đạt 96,6667 thay vì 50 sẽ bù đủ"
