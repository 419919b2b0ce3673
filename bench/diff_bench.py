"""Times `kpidsl diff`: the central frame against a changed copy, cold, and the 5,000-criterion set.

    .venv/bin/python bench/diff_bench.py [--runs 7] [--criteria 5000] [--files 40]

"Cold" is a new process per run, as a reviewer or a CI job runs it; the parse
tables come from the per-user cache (KPIDSL_CACHE_DIR), which one warm-up run
fills, as for bench/check_bench.py. The changed copies are written to
bench/data/diff/ (ignored by git): the central frame with its weights, a
band and a threshold changed, and the generated set with the central frame's
functional group narrowed. Figures are medians over --runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from gen_frameworks import generate  # noqa: E402 - after the path above

CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"
TARGETS = {"central": 0.6, "set": 5.0}
CHANGES = (  # a reweighting, a band and a threshold: the kinds of change a reviewer reads most
    ("criterion a_quantity \"Khối lượng (a)\" weight 1/3", "criterion a_quantity \"Khối lượng (a)\" weight 40%"),
    ("criterion b_quality \"Chất lượng (b)\" weight 1/3", "criterion b_quality \"Chất lượng (b)\" weight 30%"),
    ("criterion c_timeliness \"Tiến độ (c)\" weight 1/3", "criterion c_timeliness \"Tiến độ (c)\" weight 30%"),
    ("  >= 95% -> 100", "  >= 90% -> 100"),
    ("good \"Hoàn thành tốt nhiệm vụ\" when score >= 70\n", "good \"Hoàn thành tốt nhiệm vụ\" when score >= 75\n"),
)


def kpidsl_command() -> list[str]:
    script = Path(sys.executable).with_name("kpidsl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kpidsl"]


def cold(args: list[str], runs: int) -> tuple[float, float, float, int]:
    """Median and best wall time and median CPU time of `kpidsl diff ARGS` in new processes."""
    command = kpidsl_command() + ["diff", *args]
    proc = subprocess.run(command, capture_output=True, cwd=ROOT)  # warm-up: fills the parse-table cache
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus), proc.returncode


def stages(old: Path, new: Path) -> dict[str, float]:
    """Where in-process time goes (parser loaded): read both sides (with check of NEW), model, compare, render."""
    from kpidsl.versions.compare import compare
    from kpidsl.versions.model import build
    from kpidsl.versions.render import render_text
    from kpidsl.versions.sides import open_side

    t0 = time.perf_counter()
    a = open_side(str(old), check=False)
    t1 = time.perf_counter()
    b = open_side(str(new), check=True)
    t2 = time.perf_counter()
    pairs = [(a.frameworks[i], b.frameworks[i]) for i in b.frameworks if i in a.frameworks]
    models = [(build(x.program), build(y.program)) for x, y in pairs]
    t3 = time.perf_counter()
    for x, y in models:
        compare(x, y)
    t4 = time.perf_counter()
    from kpidsl.versions.diff import diff

    result = diff(str(old), str(new))
    t5 = time.perf_counter()
    render_text(result)
    t6 = time.perf_counter()
    return {"read OLD": t1 - t0, "read and check NEW": t2 - t1, "models": t3 - t2, "compare": t4 - t3,
            "whole diff()": t5 - t4, "render text": t6 - t5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--criteria", type=int, default=5000)
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()

    work = HERE / "data" / "diff"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    text = CENTRAL.read_text(encoding="utf-8")
    for before, after in CHANGES:
        assert before in text, before
        text = text.replace(before, after)
    changed = work / "central-changed.kpi"
    changed.write_text(text, encoding="utf-8")
    old_set, new_set = work / "set-old", work / "set-new"
    generate(old_set, args.criteria, args.files)
    shutil.copytree(old_set, new_set)
    central = new_set / "central.kpi"
    central.write_text(central.read_text(encoding="utf-8").replace("between 50% and 70%", "between 50% and 80%"),
                       encoding="utf-8")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.2f}")
    from kpidsl.syntax.parser import parser as lark_parser

    lark_parser()
    print("in-process, the central frame (parser loaded):")
    for name, seconds in stages(CENTRAL, changed).items():
        print(f"    {name:<20} {seconds:.3f} s")
    results = {}
    for key, old, new in (("central", CENTRAL, changed), ("set", old_set, new_set)):
        for extra in ([], ["--format", "json"]):
            shown = [str(p.relative_to(ROOT)) for p in (old, new)]
            med, best, cpu, code = cold([*shown, *extra], args.runs)
            results.setdefault(key, med)
            print(f"cold `kpidsl diff {' '.join([*shown, *extra])}`: median {med:.3f} s  best {best:.3f} s  "
                  f"cpu {cpu:.3f} s  (exit {code})")
    for key, seconds in results.items():
        verdict = "within" if seconds <= TARGETS[key] else "OVER"
        print(f"target {key}: {TARGETS[key]} s -> {verdict} ({seconds:.3f} s)")


if __name__ == "__main__":
    main()
