"""Times `kpidsl run` of the central frame against the yardstick, alternating, and checks they agree every run.

    .venv/bin/python bench/run_bench.py [--people 100000] [--tasks-per-person 30] [--runs 3] [--old-baselines]

The data comes from bench/gen_data.py (Parquet, period 2025-Q3), kept under
bench/data/run-<people>p-<tasks>t-s<seed>/ and reused when present. Each run starts
two new processes, one after the other, in turn kpidsl first and the yardstick
first: `kpidsl run` of the central frame, and bench/yardstick.py, a Python process
with DuckDB only that validates the same inputs and scores the whole frame by
hand-written SQL (bench/yardstick.sql), writing people.parquet and units.parquet.
For each the script takes the wall time, the CPU time and the peak RSS of that
process alone (wait4), and after every run checks that both give every person and
every unit the same score, status and rating. It reports medians and best times,
the ratio of the medians, where each side's time went, and the load average.
With --old-baselines it also times the two earlier baselines, kept for reference:
bench/baseline_staff.sql (the staff score alone, nothing validated) and
bench/baseline_validate.sql followed by it (the checked baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FRAMEWORK = ROOT / "frameworks" / "central" / "central.kpi"
YARDSTICK = HERE / "yardstick.py"
BASELINE_SQL = HERE / "baseline_staff.sql"
VALIDATE_SQL = HERE / "baseline_validate.sql"
PERIOD = "2025-Q3"
INPUTS = ("units", "people", "tasks", "unit_reports")
# The bars of the design: kpidsl within 2x the yardstick at 1,000,000 people (stretch 1.5x), 2.5x at
# 100,000; peak memory at most 1.5 GB (decimal: the stricter reading).
TIME_BAR, TIME_STRETCH, SMALL_TIME_BAR, MEMORY_BAR = 2.0, 1.5, 2.5, 1_500_000_000
COMPARED = {"people": ("unit", "score_name", "status", "score", "rating"),
            "units": ("parent", "score_name", "status", "score", "rating")}


@dataclass
class Measured:
    """One process: wall and CPU seconds, peak RSS in bytes, exit code, and its stage times if it told them."""

    wall: float
    cpu: float
    rss: int
    code: int
    stderr: str = ""
    stages: list[tuple[str, float]] = field(default_factory=list)
    stdout: str = ""
    load: float = 0.0


# ---------------------------------------------------------------- the data

def data_folder(people: int, tasks: int, seed: int) -> Path:
    return HERE / "data" / f"run-{people}p-{tasks}t-s{seed}"


def ensure_data(people: int, tasks: int, seed: int) -> Path:
    """Generate the Parquet inputs unless a complete set for these arguments is already there."""
    folder = data_folder(people, tasks, seed)
    if all((folder / f"{name}.parquet").exists() for name in INPUTS):
        print(f"data: {folder.relative_to(ROOT)} (already generated)")
        return folder
    start = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "gen_data.py"), "--people", str(people), "--tasks-per-person",
                    str(tasks), "--period", PERIOD, "--format", "parquet", "--out", str(folder), "--seed", str(seed)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"data: {folder.relative_to(ROOT)} (generated in {time.perf_counter() - start:.1f} s)")
    return folder


def warm_cache(folder: Path) -> None:
    """Read the files once so neither side pays for the first read from disk."""
    for path in folder.glob("*.parquet"):
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass


# ---------------------------------------------------------------- measuring one process

def measure(command: list[str], stage_lines: bool = False) -> Measured:
    """Run `command`; wall time, CPU time and peak RSS of that process (wait4, not the children's maximum).

    With `stage_lines`, stderr is a terminal, so `kpidsl run` prints its stage lines, each timed as it arrives.
    """
    stages: list[tuple[str, float]] = []
    chunks: list[bytes] = []
    with tempfile.TemporaryFile() as out:
        if stage_lines:
            master, slave = pty.openpty()
            err_target: int = slave
        else:
            err_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed after the child exits
            err_target = err_file.fileno()
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err_target, stdin=subprocess.DEVNULL)
        reader = None
        if stage_lines:
            os.close(slave)

            def read() -> None:
                pending = b""
                while True:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        break
                    if not data:
                        break
                    now = time.perf_counter() - start
                    chunks.append(data)
                    pending += data
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        text = line.decode("utf-8", "replace").strip()
                        if text.startswith("kpidsl: ") and text.endswith("…"):
                            stages.append((_stage_name(text[len("kpidsl: "):-1]), now))

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if reader is not None:
            reader.join(timeout=5)
            os.close(master)
            stderr = b"".join(chunks).decode("utf-8", "replace")
        else:
            err_file.seek(0)
            stderr = err_file.read().decode("utf-8", "replace")
            err_file.close()
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, proc.returncode, stderr, stages,
                    stdout)


def _stage_name(line: str) -> str:
    """A stage line without the path or period it names."""
    for start, name in (("checking", "check the framework"), ("loading", "load and validate the data"),
                        ("scoring", "score"), ("writing", "write the outputs")):
        if line.startswith(start):
            return name
    return line


def kpidsl_command(data: Path, out: Path, formats: str | None) -> list[str]:
    script = Path(sys.executable).with_name("kpidsl")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "kpidsl"]
    command = base + ["run", str(FRAMEWORK.relative_to(ROOT)), "--data", str(data), "--period", PERIOD,
                      "--out", str(out)]
    return command + (["--format", formats] if formats else [])


def yardstick_command(data: Path, out: Path) -> list[str]:
    return [sys.executable, str(YARDSTICK), "--data", str(data), "--period", PERIOD, "--out", str(out), "--times"]


def baseline_command(data: Path, out: Path, validate: bool = False) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(data), str(out)] + \
        (["--validate"] if validate else [])


def baseline_worker(data: Path, out: Path, validate: bool) -> None:
    """An earlier baseline: DuckDB only, the staff score's SQL (after the checks' SQL with `validate`)."""
    import datetime

    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    params = {"people": str(data / "people.parquet"), "tasks": str(data / "tasks.parquet"),
              "period_start": datetime.date(2025, 7, 1), "period_end": datetime.date(2025, 9, 30)}
    if validate:
        counts = con.execute(VALIDATE_SQL.read_text(encoding="utf-8"), params)
        found = dict(zip([d[0] for d in counts.description], counts.fetchall()[0]))
        if any(found.values()):
            sys.exit(f"the data has problems: {found}")
    con.sql(BASELINE_SQL.read_text(encoding="utf-8"), params=params).write_parquet(str(out), compression="zstd")
    con.close()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# ---------------------------------------------------------------- agreement

def agreement(kpidsl_out: Path, yardstick_out: Path, examples: int = 5) -> list[str]:
    """Every person and unit on both sides with the same compared columns; the differences, described."""
    import duckdb

    con = duckdb.connect()
    found: list[str] = []
    try:
        for table, columns in COMPARED.items():
            params = {"k": str(kpidsl_out / f"{table}.parquet"), "y": str(yardstick_out / f"{table}.parquet")}
            joined = "FROM read_parquet($k) AS k FULL JOIN read_parquet($y) AS y USING (id)"
            differs = " OR ".join(f"k.{c} IS DISTINCT FROM y.{c}" for c in columns)
            total, only_k, only_y, *per_column = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE y.score_name IS NULL), "
                "count(*) FILTER (WHERE k.score_name IS NULL), "
                + ", ".join(f"count(*) FILTER (WHERE k.{c} IS DISTINCT FROM y.{c})" for c in columns)
                + f" {joined}", params).fetchone()
            print(f"agreement, {table}: {total} rows; in kpidsl only {only_k}, in the yardstick only {only_y}; "
                  "differences: " + ", ".join(f"{c} {n}" for c, n in zip(columns, per_column)))
            if not (only_k or only_y or any(per_column)):
                continue
            found.append(f"{table}: {only_k + only_y} rows on one side only, "
                         + ", ".join(f"{c} {n}" for c, n in zip(columns, per_column) if n))
            shown = ", ".join(f"k.{c} AS k_{c}, y.{c} AS y_{c}" for c in ("status", "score", "rating"))
            for row in con.execute(f"SELECT id, {shown} {joined} WHERE {differs} ORDER BY id LIMIT {examples}",
                                   params).fetchall():
                print(f"    {row[0]}: kpidsl {row[1]} {row[3]} {row[5]}; yardstick {row[2]} {row[4]} {row[6]}")
    finally:
        con.close()
    return found


# ---------------------------------------------------------------- report

def gib(n: int) -> str:
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MiB"


def summary(name: str, runs: list[Measured]) -> tuple[float, float, int]:
    walls = [r.wall for r in runs]
    med, cpu, rss = statistics.median(walls), statistics.median(r.cpu for r in runs), max(r.rss for r in runs)
    print(f"{name:<10} wall median {med:7.2f} s  best {min(walls):7.2f} s  cpu median {cpu:7.2f} s  "
          f"peak RSS {gib(rss)}  runs: {' '.join(f'{w:.2f}' for w in walls)}")
    return med, cpu, rss


def stage_split(runs: list[Measured]) -> None:
    """Median time between kpidsl's stage lines (start-up, check, load and validate, score, write)."""
    timed = [r for r in runs if r.stages]
    if not timed:
        print("kpidsl printed no stage lines; no split")
        return
    spans: dict[str, list[float]] = {}
    for r in timed:
        marks = [0.0] + [t for _, t in r.stages] + [r.wall]
        labels = ["start Python, import"] + [s for s, _ in r.stages]
        for label, a, b in zip(labels, marks, marks[1:]):
            spans.setdefault(label, []).append(b - a)
    print("kpidsl stages (median, from its own stage lines):")
    for label, values in spans.items():
        print(f"    {label:<34} {statistics.median(values):7.2f} s")


def step_split(runs: list[Measured]) -> None:
    """Median seconds of each yardstick step (it prints them as JSON); the rest is start-up and imports."""
    timed = [(r, json.loads(r.stdout.strip().splitlines()[-1])) for r in runs if r.stdout.strip()]
    if not timed:
        return
    print("yardstick steps (median):")
    print(f"    {'start Python, import duckdb':<34} "
          f"{statistics.median(r.wall - sum(steps.values()) for r, steps in timed):7.2f} s")
    for name in timed[0][1]:
        print(f"    {name:<34} {statistics.median(steps.get(name, 0.0) for _, steps in timed):7.2f} s")


def machine() -> str:
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024 ** 3:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"DuckDB {_duckdb_version()}")


def _duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


def loads() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def timed(command: list[str], name: str, out: Path, stage_lines: bool = False) -> Measured:
    """One measured process, its output folder removed first (untimed); exits when it fails."""
    _remove(out)
    load = os.getloadavg()[0]
    m = measure(command, stage_lines=stage_lines)
    m.load = load
    if m.code != 0:
        print(f"{name} failed (exit {m.code}) after {m.wall:.2f} s, peak RSS {gib(m.rss)}:\n{m.stderr}",
              file=sys.stderr)
        raise SystemExit(1)
    return m


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--tasks-per-person", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="formats", default=None,
                        help="passed to `kpidsl run --format` (default: kpidsl's own default)")
    parser.add_argument("--old-baselines", action="store_true",
                        help="also time bench/baseline_staff.sql and the checked baseline (for reference)")
    parser.add_argument("--baseline-worker", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(Path(args.baseline_worker[0]), Path(args.baseline_worker[1]), args.validate)
        return 0
    if args.people < 1 or args.tasks_per_person < 0 or args.runs < 1:
        parser.error("--people and --runs must be at least 1, --tasks-per-person not negative")

    print(machine())
    print(f"at the start: {loads()}")
    data = ensure_data(args.people, args.tasks_per_person, args.seed)
    sizes = {p.stem: p.stat().st_size for p in data.glob("*.parquet")}
    print("    " + ", ".join(f"{k}.parquet {v / 1024 ** 2:.1f} MiB" for k, v in sorted(sizes.items())))
    warm_cache(data)
    work = Path(tempfile.mkdtemp(prefix="run-bench-", dir=HERE / "data"))
    k_out, y_out, b_out = work / "kpidsl-out", work / "yardstick-out", work / "baseline.parquet"
    k_cmd, y_cmd = kpidsl_command(data, k_out, args.formats), yardstick_command(data, y_out)
    print(f"kpidsl:    {' '.join(k_cmd)}")
    print(f"yardstick: {' '.join(y_cmd)}")
    k_runs: list[Measured] = []
    y_runs: list[Measured] = []
    old: dict[str, list[Measured]] = {"baseline": [], "checked": []}
    disagreements: list[str] = []
    try:
        for i in range(args.runs):
            # Alternate which side goes first, so neither always follows the other's caches or heat.
            for side in (("kpidsl", "yardstick") if i % 2 == 0 else ("yardstick", "kpidsl")):
                if side == "kpidsl":
                    k_runs.append(timed(k_cmd, "kpidsl run", k_out, stage_lines=True))
                else:
                    y_runs.append(timed(y_cmd, "the yardstick", y_out))
            k, y = k_runs[-1], y_runs[-1]
            print(f"  run {i + 1}: kpidsl {k.wall:.2f} s (cpu {k.cpu:.2f} s, {gib(k.rss)}, load {k.load:.2f}), "
                  f"yardstick {y.wall:.2f} s (cpu {y.cpu:.2f} s, {gib(y.rss)}, load {y.load:.2f}); "
                  f"ratio {k.wall / y.wall:.2f}x", flush=True)
            disagreements += [f"run {i + 1}: {d}" for d in agreement(k_out, y_out)]
            if args.old_baselines:
                old["baseline"].append(timed(baseline_command(data, b_out), "the baseline", b_out))
                old["checked"].append(timed(baseline_command(data, b_out, True), "the checked baseline", b_out))
        print(f"at the end: {loads()}")
        k_med, k_cpu, k_rss = summary("kpidsl", k_runs)
        y_med, y_cpu, y_rss = summary("yardstick", y_runs)
        stage_split(k_runs)
        step_split(y_runs)
        ratio = k_med / y_med
        bar = TIME_BAR if args.people >= 1_000_000 else SMALL_TIME_BAR
        verdict = "met" + (f", stretch {TIME_STRETCH}x met" if ratio <= TIME_STRETCH else "") if ratio <= bar \
            else "NOT met"
        print(f"ratio kpidsl / yardstick: wall {ratio:.2f}x (bar {bar}x: {verdict}), cpu {k_cpu / y_cpu:.2f}x")
        print(f"kpidsl peak RSS {gib(k_rss)} = {k_rss / 1e9:.2f} GB (bar {MEMORY_BAR / 1e9:.1f} GB: "
              f"{'met' if k_rss <= MEMORY_BAR else 'NOT met'}); the yardstick {gib(y_rss)}")
        if args.old_baselines:
            b_med, _, _ = summary("baseline", old["baseline"])
            v_med, _, _ = summary("checked", old["checked"])
            print(f"for reference: kpidsl / staff-only baseline {k_med / b_med:.2f}x, "
                  f"kpidsl / checked baseline {k_med / v_med:.2f}x, yardstick / checked baseline {y_med / v_med:.2f}x")
        for name, out in (("kpidsl", k_out), ("the yardstick", y_out)):
            files = [f for f in out.rglob("*") if f.is_file()]
            print(f"{name} wrote {len(files)} files, {sum(f.stat().st_size for f in files) / 1024 ** 2:.1f} MiB")
        if disagreements:
            print("DISAGREEMENT between kpidsl and the yardstick:\n    " + "\n    ".join(disagreements))
            return 1
        print(f"agreement: every person and unit the same in all {args.runs} runs")
    finally:
        _remove(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
