"""Times `kpidsl run` of the central frame against hand-written DuckDB SQL of its staff score, in one run.

    .venv/bin/python bench/run_bench.py [--people 100000] [--tasks-per-person 30] [--runs 3]

The data comes from bench/gen_data.py (Parquet, period 2025-Q3), kept under
bench/data/run-<people>p-<tasks>t-s<seed>/ and reused when present. Each run
starts two new processes, one after the other: `kpidsl run` of the central frame,
a Python process that runs bench/baseline_staff.sql in DuckDB and writes its
result to Parquet, and a third that first runs the checks of the inputs a run
must make (bench/baseline_validate.sql), then the same scoring query. Both read the same
Parquet files with DuckDB's default settings. For each the script reports wall time (median and best over --runs),
CPU time and peak RSS (from wait4 for that process alone), then checks that the
baseline's staff scores and ratings equal those in kpidsl's people.parquet.
"""

from __future__ import annotations

import argparse
import datetime
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
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FRAMEWORK = ROOT / "frameworks" / "central" / "central.kpi"
BASELINE_SQL = HERE / "baseline_staff.sql"
VALIDATE_SQL = HERE / "baseline_validate.sql"
PERIOD = "2025-Q3"
PERIOD_START, PERIOD_END = datetime.date(2025, 7, 1), datetime.date(2025, 9, 30)
INPUTS = ("units", "people", "tasks", "unit_reports")
TIME_BAR, MEMORY_BAR = 1.25, 1_500_000_000  # 1.5 GB, decimal: the stricter reading of the goal


@dataclass
class Measured:
    """One process: wall and CPU seconds, peak RSS in bytes, exit code, and its stage times if it told them."""

    wall: float
    cpu: float
    rss: int
    code: int
    stderr: str = ""
    stages: list[tuple[str, float]] = field(default_factory=list)


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
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, proc.returncode, stderr, stages)


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


def baseline_command(data: Path, out: Path, validate: bool = False) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(data), str(out)] + \
        (["--validate"] if validate else [])


def baseline_worker(data: Path, out: Path, validate: bool) -> None:
    """The baseline process: DuckDB only (no kpidsl imported), the SQL file, its result written to Parquet.

    With `validate`, the input checks run first and a problem stops it, as a run stops.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    params = {"people": str(data / "people.parquet"), "tasks": str(data / "tasks.parquet"),
              "period_start": PERIOD_START, "period_end": PERIOD_END}
    if validate:
        counts = con.execute(VALIDATE_SQL.read_text(encoding="utf-8"), params)
        found = dict(zip([d[0] for d in counts.description], counts.fetchall()[0]))
        if any(found.values()):
            sys.exit(f"the data has problems: {found}")
    query = BASELINE_SQL.read_text(encoding="utf-8")
    con.sql(query, params=params).write_parquet(str(out), compression="zstd")
    con.close()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


# ---------------------------------------------------------------- agreement

def agreement(kpidsl_out: Path, baseline_out: Path) -> None:
    """Compare the staff results; for a differing score, say which side is the exact half-up rounding."""
    import duckdb

    con = duckdb.connect()
    params = {"k": str(kpidsl_out / "people.parquet"), "b": str(baseline_out)}
    joined = ("FROM read_parquet($b) AS b FULL JOIN (SELECT * FROM read_parquet($k) WHERE score_name = 'staff') AS k "
              "USING (id)")
    (total, only_b, only_k, score_diff, rating_diff, unit_diff, not_ok) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE k.score_name IS NULL), count(*) FILTER (WHERE b.unit IS NULL), "
        "count(*) FILTER (WHERE b.score IS DISTINCT FROM k.score), "
        "count(*) FILTER (WHERE b.rating IS DISTINCT FROM k.rating), "
        "count(*) FILTER (WHERE b.unit IS DISTINCT FROM k.unit), "
        f"count(*) FILTER (WHERE k.status IS DISTINCT FROM 'ok') {joined}", params).fetchone()
    levels = con.execute(f"SELECT b.rating, count(*) {joined} GROUP BY ALL ORDER BY 2 DESC", params).fetchall()
    print(f"agreement: {total} staff; in the baseline only {only_b}, in kpidsl only {only_k}; status not ok {not_ok}")
    print(f"    mismatches: score {score_diff}, rating {rating_diff}, unit {unit_diff}")
    print("    baseline ratings: " + ", ".join(f"{level} {count}" for level, count in levels))
    if not score_diff:
        return
    rows = con.execute(
        "SELECT id, b.score, k.score, b.general, b.assigned, b.completed, b.completed_quality, b.completed_on_time, "
        f"b.rating, k.rating {joined} WHERE b.score IS DISTINCT FROM k.score ORDER BY id", params).fetchall()
    verdicts = {"baseline": 0, "kpidsl": 0, "neither": 0, "unknown": 0}
    examples = []
    for pid, b_score, k_score, general, assigned, *sums, b_rating, k_rating in rows:
        if b_score is None or k_score is None or assigned is None:
            verdicts["unknown"] += 1
            continue
        exact = Fraction(general) + (Fraction(0) if not assigned else
                                     sum(Fraction(s) for s in sums) / Fraction(assigned) / 3 * 70)
        right = _half_up(exact)
        who = "baseline" if b_score == right else "kpidsl" if k_score == right else "neither"
        verdicts[who] += 1
        if len(examples) < 5:
            examples.append(f"{pid}: exact {float(exact):.6f} ({exact}) -> {right}; baseline {b_score} {b_rating}, "
                            f"kpidsl {k_score} {k_rating}")
    print("    differing scores, by which side equals the exact value rounded half up: "
          + ", ".join(f"{k} {v}" for k, v in verdicts.items() if v))
    for line in examples:
        print(f"      {line}")


def _half_up(value: Fraction) -> Decimal:
    cents = (value * 100 * 2 + 1) // 2 if value >= 0 else -((-value * 100 * 2 + 1) // 2)
    return Decimal(int(cents)).scaleb(-2)


# ---------------------------------------------------------------- report

def gib(n: int) -> str:
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.0f} MiB"


def summary(name: str, runs: list[Measured]) -> tuple[float, int]:
    walls = [r.wall for r in runs]
    med = statistics.median(walls)
    rss = max(r.rss for r in runs)
    print(f"{name:<9} wall median {med:7.2f} s  best {min(walls):7.2f} s  "
          f"cpu median {statistics.median(r.cpu for r in runs):7.2f} s  peak RSS {gib(rss)}  "
          f"runs: {' '.join(f'{w:.2f}' for w in walls)}")
    return med, rss


def stage_split(runs: list[Measured]) -> None:
    """Median time between kpidsl's stage lines (start-up, check, load and validate, score, write)."""
    timed = [r for r in runs if r.stages]
    if not timed:
        print("kpidsl printed no stage lines; no split")
        return
    names = ["start Python, import"] + [s for s, _ in timed[0].stages]
    spans: dict[str, list[float]] = {name: [] for name in names}
    for r in timed:
        marks = [0.0] + [t for _, t in r.stages] + [r.wall]
        labels = ["start Python, import"] + [s for s, _ in r.stages]
        for label, a, b in zip(labels, marks, marks[1:]):
            spans.setdefault(label, []).append(b - a)
    print("kpidsl stages (median, from its own stage lines):")
    for label, values in spans.items():
        if values:
            print(f"    {label:<28} {statistics.median(values):7.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--tasks-per-person", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="formats", default=None,
                        help="passed to `kpidsl run --format` (default: kpidsl's own default, csv,parquet)")
    parser.add_argument("--baseline-worker", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(Path(args.baseline_worker[0]), Path(args.baseline_worker[1]), args.validate)
        return 0
    if args.people < 1 or args.tasks_per_person < 0 or args.runs < 1:
        parser.error("--people and --runs must be at least 1, --tasks-per-person not negative")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024 ** 3:.0f} GiB, "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    data = ensure_data(args.people, args.tasks_per_person, args.seed)
    sizes = {p.stem: p.stat().st_size for p in data.glob("*.parquet")}
    print("    " + ", ".join(f"{k}.parquet {v / 1024 ** 2:.1f} MiB" for k, v in sorted(sizes.items())))
    warm_cache(data)
    work = Path(tempfile.mkdtemp(prefix="run-bench-", dir=HERE / "data"))
    k_out, b_out = work / "kpidsl-out", work / "baseline.parquet"
    k_cmd, b_cmd = kpidsl_command(data, k_out, args.formats), baseline_command(data, b_out)
    v_cmd = baseline_command(data, b_out, validate=True)
    print(f"kpidsl:   {' '.join(k_cmd)}")
    print(f"baseline: {BASELINE_SQL.relative_to(ROOT)} in a new Python + DuckDB process, result to Parquet")
    print(f"checked:  {VALIDATE_SQL.relative_to(ROOT)}, then the baseline, in one new process")
    k_runs: list[Measured] = []
    b_runs: list[Measured] = []
    v_runs: list[Measured] = []
    try:
        for i in range(args.runs):
            # Outputs are removed between runs (untimed) so no run pays for deleting the previous one.
            _remove(k_out)
            k = measure(k_cmd, stage_lines=True)
            if k.code != 0:
                print(f"kpidsl run failed (exit {k.code}) after {k.wall:.2f} s, peak RSS {gib(k.rss)}:\n{k.stderr}",
                      file=sys.stderr)
                return 1
            _remove(b_out)
            b = measure(b_cmd)
            if b.code != 0:
                print(f"baseline failed (exit {b.code}) after {b.wall:.2f} s:\n{b.stderr}", file=sys.stderr)
                return 1
            _remove(b_out)
            v = measure(v_cmd)
            if v.code != 0:
                print(f"checked baseline failed (exit {v.code}) after {v.wall:.2f} s:\n{v.stderr}", file=sys.stderr)
                return 1
            k_runs.append(k)
            b_runs.append(b)
            v_runs.append(v)
            print(f"  run {i + 1}: kpidsl {k.wall:.2f} s {gib(k.rss)}, baseline {b.wall:.2f} s {gib(b.rss)}, "
                  f"checked baseline {v.wall:.2f} s {gib(v.rss)}", flush=True)
        k_med, k_rss = summary("kpidsl", k_runs)
        b_med, b_rss = summary("baseline", b_runs)
        v_med, _ = summary("checked", v_runs)
        stage_split(k_runs)
        ratio = k_med / b_med
        print(f"ratio kpidsl / baseline (median wall): {ratio:.2f}x  (bar {TIME_BAR}x: "
              f"{'met' if ratio <= TIME_BAR else 'NOT met'})")
        print(f"ratio checked baseline / baseline: {v_med / b_med:.2f}x  (the input checks alone, written by "
              f"hand); kpidsl / checked baseline: {k_med / v_med:.2f}x")
        print(f"kpidsl peak RSS {gib(k_rss)} = {k_rss / 1e9:.2f} GB  (bar {MEMORY_BAR / 1e9:.1f} GB: "
              f"{'met' if k_rss <= MEMORY_BAR else 'NOT met'})")
        outputs = sorted(p.name for p in k_out.iterdir()) if k_out.is_dir() else []
        size = sum(p.stat().st_size for p in k_out.rglob("*") if p.is_file()) if k_out.is_dir() else 0
        print(f"kpidsl wrote {len(outputs)} entries, {size / 1024 ** 2:.0f} MiB; "
              f"the baseline {b_out.stat().st_size / 1024 ** 2:.1f} MiB")
        agreement(k_out, b_out)
    finally:
        _remove(k_out)
        _remove(b_out)
        _remove(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
