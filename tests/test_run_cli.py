"""`kpidsl run`: exit codes, the files written, the manifest, byte-identical reruns, atomic replacement."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import __version__, cli, pipeline
from results_fixture import FRAMEWORK, fake_scorer, write_inputs

PEOPLE = [
    # Worked out from the data: p1 as in results_fixture; p2 and p3 do every task of the quarter with no
    # error: 30 + 42 + 28 = 100, top by score, but 50% of the one person rated good (p1) allows no top:
    # both move down to good (t5 of p3 is due in the fourth quarter and does not count).
    # Names come from the inputs' display fields; p3 has none (an empty cell), so its name is empty.
    "p1,Nguyễn Văn An,u1,Unit one,staff,ok,70.40,good,Good,,27,27.00,0.3,90,43.40,0.7,0.5,21.00,0.6,50,2,22.40,"
    "0.4,80,0,0.00",
    "p2,<b>Trần</b> Bình,u1,Unit one,staff,ok,100.00,good,Good,,30,30.00,0.3,100,70.00,0.7,1,42.00,0.6,100,0,"
    "28.00,0.4,100,0,0.00",
    "p3,,u1,Unit one,staff,ok,100.00,good,Good,,30,30.00,0.3,100,70.00,0.7,1,42.00,0.6,100,0,28.00,0.4,100,0,0.00",
]
# u1: the members' mean (70.40 + 100 + 100) / 3 = 90.133333333333, unscored: 90.13 points, good.
UNIT = "u1,Unit one,,,unit_score,ok,90.13,good,Good,,90.133333333333,90.13,1,90.133333333333"

DEFAULT_FILES = {f"{t}.{x}" for t in ("people", "units", "rating_steps", "quota") for x in ("csv", "parquet")}
DEFAULT_FILES |= {"columns.csv", "report.html", "manifest.json", "evidence/framework.json", "evidence/sources/fx.kpi"}
DEFAULT_FILES |= {f"evidence/{t}.parquet" for t in ("entities", "items", "measures", "rating_steps", "quota")}


@pytest.fixture
def fx(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path)
    return tmp_path


def run(*args: str, out: str = "out", period: str = "2025-Q3"):
    return CliRunner().invoke(cli.main, ["run", "fx.kpi", "--data", "data", "--period", period, "--out", out, *args])


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- through the engine

def test_run_scores_and_writes_every_output(fx):
    result = run()
    assert result.exit_code == 0, result.output
    assert result.stdout == "2025-Q3: 3 people and 1 unit; wrote 19 files to out\n"
    written = set(files_in(fx / "out"))
    assert written >= DEFAULT_FILES
    assert written - DEFAULT_FILES <= {"evidence/periods.parquet"}  # the engine's table of roll-up periods
    people = (fx / "out" / "people.csv").read_text(encoding="utf-8").splitlines()
    assert people[1:] == PEOPLE
    assert (fx / "out" / "units.csv").read_text(encoding="utf-8").splitlines()[1:] == [UNIT]
    assert (fx / "out" / "quota.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        'grades,top,good,u1,0,2,score,,"p2, p3"']
    assert (fx / "out" / "people.csv").read_bytes().startswith("\ufeffid,name,".encode())  # Excel reads UTF-8
    assert leftovers(fx) == []


def test_manifest_records_inputs_counts_and_outputs(fx):
    assert run().exit_code == 0
    text = (fx / "out" / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert manifest["manifest_version"] == 2
    assert manifest["engine"] == {"name": "kpidsl", "version": __version__}
    framework = manifest["framework"]
    assert (framework["id"], framework["version"], framework["effective"], framework["period"]) == \
        ("fx", "1.0", "2025-07-01", "quarter")
    assert framework["rounding"] == {"places": 2, "mode": "half_up"}
    assert framework["files"] == [{"path": "fx.kpi", "sha256": hashlib.sha256(FRAMEWORK.encode()).hexdigest(),
                                   "size": len(FRAMEWORK.encode()), "id": "fx", "title": "Fixture frame",
                                   "version": "1.0", "effective": "2025-07-01",
                                   "source": "evidence/sources/fx.kpi"}]
    assert manifest["period"] == {"label": "2025-Q3", "kind": "quarter", "start": "2025-07-01", "end": "2025-09-30"}
    data = manifest["data"]
    assert data["source"] == "data" and data["reject_invalid"] is False
    tasks_csv = (fx / "data" / "tasks.csv").read_bytes()
    assert {"input": "tasks", "name": "tasks.csv", "format": "csv", "sha256": hashlib.sha256(tasks_csv).hexdigest(),
            "size": len(tasks_csv)} in data["files"]
    # t5 is due in the fourth quarter: read 5, 4 in the period, all 4 used.
    assert {"input": "tasks", "file": "tasks.csv", "read": 5, "in_period": 4, "outside_period": 1, "used": 4,
            "rejected": 0} in data["rows"]
    assert manifest["results"] == [{"entity": "people", "status": "ok", "count": 3},
                                   {"entity": "units", "status": "ok", "count": 1}]
    assert manifest["quota"] == [{"rating": "grades", "level": "top", "of_level": "good", "group": "u1",
                                  "allowed": 0, "holders": 2, "resolution": "score", "kept": [], "moved": ["p2", "p3"]}]
    outputs = {o["name"]: o for o in manifest["outputs"]}
    assert set(outputs) == set(files_in(fx / "out")) - {"manifest.json"}
    for name, entry in outputs.items():
        data_bytes = (fx / "out" / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data_bytes).hexdigest() and entry["size"] == len(data_bytes)
    assert str(fx) not in text  # no absolute path: the same inputs elsewhere give the same manifest


def test_same_inputs_give_byte_identical_outputs(fx):
    formats = "csv,parquet,json,xlsx"
    assert run("--format", formats, out="one").exit_code == 0
    assert run("--format", formats, out="two").exit_code == 0
    one, two = files_in(fx / "one"), files_in(fx / "two")
    assert one.keys() == two.keys() and "results.xlsx" in one
    for name in one:
        assert one[name] == two[name], name
    today = datetime.date.today().isoformat().encode()
    assert not [name for name, data in one.items() if today in data]  # no clock time anywhere


def test_a_run_replaces_an_earlier_one_as_a_whole(fx):
    assert run().exit_code == 0
    (fx / "out" / "stale.txt").write_text("from before", encoding="utf-8")
    result = run("--format", "json", "--quiet")
    assert result.exit_code == 0 and result.stdout == ""
    written = set(files_in(fx / "out"))
    assert "stale.txt" not in written and "people.csv" not in written and "people.json" in written
    assert leftovers(fx) == []


def test_a_period_the_framework_cannot_score_is_an_input_error(fx):
    result = run(period="2025")
    assert result.exit_code == 2
    assert ("--period: fx scores each quarter; 2025 is a year and fx declares no `rollup ... per year`"
            in result.stderr)
    assert run(period="2025-08").exit_code == 2
    assert not (fx / "out").exists()


def test_reject_invalid_writes_rejects_and_counts_them(fx):
    with open(fx / "data" / "tasks.csv", "a", encoding="utf-8") as fh:
        fh.write("t6,p1,2025-02-30,true\n")
    refused = run()
    assert refused.exit_code == 2
    assert 'tasks.csv:6: column due: "2025-02-30" is not a date (YYYY-MM-DD)' in refused.stderr
    assert "nothing was written (--reject-invalid leaves bad rows out)" in refused.stderr
    assert not (fx / "out").exists()
    result = run("--reject-invalid")
    assert result.exit_code == 0, result.output
    assert ", 1 row rejected;" in result.stdout
    assert (fx / "out" / "rejects.csv").read_text(encoding="utf-8").splitlines() == [
        "input,file,row,column,kind,message",
        'tasks,tasks.csv,6,due,wrong_type,"""2025-02-30"" is not a date (YYYY-MM-DD)"']
    rows = json.loads((fx / "out" / "manifest.json").read_text(encoding="utf-8"))["data"]["rows"]
    assert {"input": "tasks", "file": "tasks.csv", "read": 6, "in_period": 5, "outside_period": 1, "used": 4,
            "rejected": 1} in rows
    assert (fx / "out" / "people.csv").read_text(encoding="utf-8").splitlines()[1:] == PEOPLE


# ---------------------------------------------------------------- exit codes (results from the fixture)

@pytest.fixture
def fake(fx, monkeypatch):
    monkeypatch.setattr(pipeline, "_score", fake_scorer())
    return fx


def test_framework_with_errors_exits_1_with_its_diagnostics(fake):
    (fake / "fx.kpi").write_text(FRAMEWORK.replace("scored raters", "scored ratres"), encoding="utf-8")
    result = run()
    assert result.exit_code == 1
    assert "fx.kpi:35:65: error[KPI020]: there is no scale `ratres`" in result.stderr
    assert "the framework cannot be run" in result.stderr
    assert not (fake / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--period", "2025-Q5"], "--period: '2025-Q5' is not a period: quarter 5 is not between 1 and 4"),
    (["--data", "nowhere"], "--data: nowhere: no such folder or file"),
    (["--data", "fx.kpi"], "--data: fx.kpi: expected a folder of data files or a DuckDB database"),
])
def test_bad_arguments_exit_2(fake, args, message):
    base = {"--data": "data", "--period": "2025-Q3"}
    base.update(dict(zip(args[::2], args[1::2])))
    result = CliRunner().invoke(cli.main, ["run", "fx.kpi", "--out", "out", *sum(base.items(), ())])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (fake / "out").exists()


def test_missing_framework_file_exits_2(fake):
    result = CliRunner().invoke(cli.main, ["run", "nope.kpi", "--data", "data", "--period", "2025-Q3", "--out", "o"])
    assert result.exit_code == 2
    assert "error[KPI010]: cannot read the file" in result.stderr


def test_unknown_format_is_a_usage_error(fake):
    result = run("--format", "csv,xml")
    assert result.exit_code == 2
    assert "'xml' is not a format" in result.stderr


def test_data_problems_exit_2_and_leave_an_earlier_run_untouched(fake):
    assert run().exit_code == 0
    before = files_in(fake / "out")
    (fake / "data" / "people.csv").write_text("person_id,unit_id,role,general_points\np1,u1,boss,31\n",
                                              encoding="utf-8")
    result = run()
    assert result.exit_code == 2
    assert 'people.csv:1: column role: "boss" is not one of staff, head' in result.stderr
    assert 'people.csv:1: column general_points: "31" is out of range: must be between 0 and 30' in result.stderr
    assert files_in(fake / "out") == before


def test_out_must_be_a_folder_kpidsl_may_replace(fake):
    (fake / "notes").mkdir()
    (fake / "notes" / "mine.txt").write_text("keep me", encoding="utf-8")
    result = run(out="notes")
    assert result.exit_code == 2
    assert "notes holds files that kpidsl did not write" in result.stderr
    assert (fake / "notes" / "mine.txt").read_text(encoding="utf-8") == "keep me"
    (fake / "a-file").write_text("x", encoding="utf-8")
    result = run(out="a-file")
    assert result.exit_code == 2 and "a-file exists and is not a folder" in result.stderr
    assert run(out="empty-ok").exit_code == 0
    (fake / "empty").mkdir()
    assert run(out="empty").exit_code == 0
    assert run(out="deeper/still/out").exit_code == 0  # missing parent folders are made


def test_failure_while_writing_leaves_the_earlier_run_intact(fake, monkeypatch):
    assert run().exit_code == 0
    before = files_in(fake / "out")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("kpidsl.output.tables.write_evidence", disk_full)
    result = run("--format", "csv,json")
    assert result.exit_code == 2
    assert "cannot write the outputs: No space left on device; out was left as it was" in result.stderr
    assert files_in(fake / "out") == before
    assert leftovers(fake) == []


def test_interrupted_run_leaves_the_earlier_run_intact(fake, monkeypatch):
    assert run().exit_code == 0
    before = files_in(fake / "out")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kpidsl.output.report.write_report", interrupted)
    result = run()
    assert result.exit_code == 130  # as a shell reports Ctrl-C, never 1 ("findings")
    assert result.stderr == "kpidsl: interrupted (Ctrl-C); out was left as it was\n"
    assert files_in(fake / "out") == before
    assert leftovers(fake) == []


def test_a_failed_final_rename_puts_the_earlier_run_back(fake, monkeypatch, tmp_path):
    assert run().exit_code == 0
    before = files_in(fake / "out")
    staging = fake / ".out.tmp-test"
    staging.mkdir()
    (staging / "manifest.json").write_text("{}", encoding="utf-8")
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(src) == str(staging):
            raise OSError(13, "Permission denied")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError):
        pipeline.publish(str(staging), "out")
    monkeypatch.setattr(os, "rename", real_rename)
    assert files_in(fake / "out") == before
    assert leftovers(fake) == [".out.tmp-test"]  # the caller removes its own staging folder


def test_progress_only_on_a_terminal_and_never_with_quiet(fake, monkeypatch):
    assert "kpidsl: scoring" not in run().stderr
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    shown = run()
    assert shown.exit_code == 0
    assert "kpidsl: checking the framework…" in shown.stderr and "kpidsl: writing out…" in shown.stderr
    quiet = run("--quiet")
    assert quiet.stderr == "" and quiet.stdout == ""


def test_errors_in_results_are_counted_in_the_summary(fake):
    result = run()
    # The fixture has p5 with status error and p6 not scored.
    assert result.stdout.startswith("2025-Q3: 5 people and 1 unit, 1 result with status error;")


def test_run_and_explain_import_heavy_libraries_lazily():
    code = ("import sys, kpidsl.cli, kpidsl.pipeline; "
            "print(sorted(m for m in ('duckdb', 'jinja2', 'pydantic', 'openpyxl') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_year_rolled_up_from_quarters(tmp_path, monkeypatch):
    # The central frame's own test "Kết quả năm từ các quý", as files: y1's quarters score 97, 97, 79.5 and 27
    # (worked out in frameworks/central/central.kpi); the year is their mean, 75.125 -> 75.13, and one
    # quarter not completed rules out good: completed.
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "units.csv").write_text("unit_id,name,parent_id\nu5,Phòng Tổ chức,\n", encoding="utf-8")
    (data / "people.csv").write_text("person_id,unit_id,role,general_points\ny1,u5,staff,27\n", encoding="utf-8")
    (data / "tasks.csv").write_text(
        "task_id,person_id,kind,due,finished,errors,delays\n"
        "y1a,y1,planned,2026-02-15,2026-02-10,0,0\ny1b,y1,planned,2026-05-15,2026-05-10,0,0\n"
        "y1c,y1,planned,2026-08-15,2026-08-20,2,1\ny1d,y1,planned,2026-11-15,,0,0\n", encoding="utf-8")
    (data / "unit_reports.csv").write_text(
        "report_id,unit_id,reported,plan_items,plan_done,budget_plan,budget_spent,reform_index\n", encoding="utf-8")
    central = str(Path(__file__).parent.parent / "frameworks" / "central" / "central.kpi")
    # The units' basic KPIs have no data here: allowed on purpose, and recorded.
    result = CliRunner().invoke(cli.main, ["run", central, "--data", "data", "--period", "2026", "--out", "year",
                                           "--allow-empty", "unit_reports"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "year" / "people.csv").read_text(encoding="utf-8").splitlines()[1] == \
        "y1,,u5,Phòng Tổ chức,yearly,ok,75.13,completed,Hoàn thành nhiệm vụ,"
    assert (tmp_path / "year" / "periods.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        "people,y1,2026-Q1,staff,ok,97.00,good,", "people,y1,2026-Q2,staff,ok,97.00,good,",
        "people,y1,2026-Q3,staff,ok,79.50,good,", "people,y1,2026-Q4,staff,ok,27.00,not_completed,"]
    # The report shows the trend: u5's people's mean score in each quarter, one point per quarter.
    page = (tmp_path / "year" / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="trend">Diễn biến theo kỳ</h2>' in page
    [points] = re.findall(r'<polyline class="line c0" points="([^"]+)">', page)
    # 4 quarters over 446 px from x = 44; y from 12 (100) to 230 (0): 97 -> 18.54, 79.5 -> 56.69, 27 -> 171.14
    assert points == "44.0,18.54 192.67,18.54 341.33,56.69 490.0,171.14"
    assert "<title>Phòng Tổ chức: 79,5</title>" in page
    explained = CliRunner().invoke(cli.main, ["explain", "year", "--id", "y1", "--lang", "en"])
    assert explained.exit_code == 0, explained.output
    assert ("  score = mean(periods.score); not evaluated when count(periods) < 2\n\n  periods:\n"
            "    2026-Q1: ok, score 97.00, rating good\n") in explained.stdout
    assert ("    the score 75.13 is enough; held back by:\n      the score meets the threshold, but not the rest of: "
            "score >= 70 and count(periods where rating = not_completed) = 0\n") in explained.stdout
    manifest = json.loads((tmp_path / "year" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["framework"]["root"] == "central.kpi" and manifest["period"]["kind"] == "year"
    assert manifest["data"]["allowed_empty"] == ["unit_reports"]


HUGE = """framework demo "Huge values"
  period quarter

input units key unit_id {
  unit_id: text
}

input people key person_id {
  person_id: text
  unit_id: ref units
  v: number
}

units from units
people from people member of unit_id

score staff for people {
  criterion a points 100 = v * v
}
"""


def test_a_rule_the_engine_cannot_compute_is_a_diagnostic_at_that_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("main.kpi").write_text(HUGE, encoding="utf-8")
    Path("data").mkdir()
    Path("data/units.csv").write_text("unit_id\nu1\n", encoding="utf-8")
    Path("data/people.csv").write_text("person_id,unit_id,v\np1,u1,1000000000000000\n", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["run", "main.kpi", "--data", "data", "--period", "2025-Q3",
                                           "--out", "out"])
    assert result.exit_code == 1
    assert "main.kpi:17:1: error[KPI097]: cannot score the period here: " in result.stderr
    assert "17 | score staff for people {" in result.stderr
    # The help line says the cause: an overflow, not a rule the engine cannot compute.
    assert "  help: a value this rule computes is too large to keep exactly" in result.stderr
    assert not Path("out").exists()
