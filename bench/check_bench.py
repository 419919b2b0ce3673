"""Times `kpidsl check`: a generated 5,000-criterion set in-process and cold, and one framework file cold.

    .venv/bin/python bench/check_bench.py [--criteria 5000] [--files 40] [--runs 5] [--importtime]

"Cold" is a new process per run, as a person or CI runs it; the parse tables
come from the per-user cache (see docs/cli.md, KPIDSL_CACHE_DIR), which one
warm-up run fills. Figures are medians over --runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from gen_frameworks import generate  # noqa: E402 - after the path above

SINGLE = ROOT / "frameworks" / "central" / "central.kpi"
TARGETS = {"set": 0.5, "single": 0.2}


def kpidsl_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m kpidsl`."""
    script = Path(sys.executable).with_name("kpidsl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kpidsl"]


def median_seconds(run: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def cold(args: list[str], runs: int) -> tuple[float, float, float, int]:
    """Median and best wall time, median CPU time (user + system) of `kpidsl check ARGS` in new processes."""
    command = kpidsl_command() + ["check", *args]
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


def stages(folder: Path) -> dict[str, float]:
    """Where in-process time goes: read+decode, parse, lower, then resolve+check of every root."""
    from kpidsl.pipeline import check_file
    from kpidsl.semantic.resolve import LoadedFile, Loader, expand_paths
    from kpidsl.syntax.lower import lower
    from kpidsl.syntax.parser import decode, parse_source

    files, _ = expand_paths([str(folder)])
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    sources = [decode(f, Path(f).read_bytes())[0] for f in files]
    t1 = time.perf_counter()
    parsed = [parse_source(s) for s in sources]
    t2 = time.perf_counter()
    lowered = [lower(p) for p in parsed]
    t3 = time.perf_counter()
    loader = Loader()
    for f, s, (fw, diags) in zip(files, sources, lowered):
        loader.files[os.path.normpath(f)] = LoadedFile(f, s, fw, diags)
    for f in files:
        check_file(f, loader)
    t4 = time.perf_counter()
    out.update({"read+decode": t1 - t0, "parse (lark)": t2 - t1, "lower": t3 - t2, "resolve+check": t4 - t3})
    return out


def _size(path: Path) -> str:
    files = list(path.rglob("*.kpi")) if path.is_dir() else [path]
    return f"{sum(f.stat().st_size for f in files) / 1024:,.0f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", type=int, default=5000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", action="store_true", help="also show the slowest imports of the check path")
    args = parser.parse_args()

    folder = HERE / "data" / "frameworks"
    written = generate(folder, args.criteria, args.files)
    size = sum(p.stat().st_size for p in written)
    rel = folder.relative_to(ROOT)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.2f}")
    print(f"set: {rel}: {len(written)} files, {args.criteria} criteria, {size:,} bytes")

    from kpidsl.pipeline import check_paths
    from kpidsl.syntax.parser import parser as lark_parser

    lark_parser()
    report = check_paths([str(folder)])
    print(f"set checks with {report.errors} errors, {report.warnings} warnings")
    med, best = median_seconds(lambda: check_paths([str(folder)]), args.runs)
    print(f"in-process check of the set (parser loaded):     median {med:.3f} s  best {best:.3f} s")
    for name, seconds in stages(folder).items():
        print(f"    {name:<14} {seconds:.3f} s")

    results: dict[tuple[str, str], float] = {}
    small = folder.parent / "small.kpi"
    for mode, extra in (("every file parsed", ["--no-cache"]), ("files unchanged since the last check", [])):
        print(f"cold process, {mode}:")
        for key, path in (("set", folder), ("single", SINGLE), ("small", small)):
            shown = path.relative_to(ROOT)
            med, best, cpu, code = cold([*extra, str(shown)], args.runs)
            results[(key, mode)] = med
            print(f"    `kpidsl check {' '.join([*extra, str(shown)])}` ({_size(path)}): median {med:.3f} s  "
                  f"best {best:.3f} s  cpu {cpu:.3f} s  (exit {code})")
    startup, _ = median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"]), args.runs)
    version, _ = median_seconds(lambda: subprocess.run(kpidsl_command() + ["--version"], capture_output=True),
                                args.runs)
    print(f"for scale: `python -c pass` {startup:.3f} s, `kpidsl --version` {version:.3f} s")
    for (key, mode), seconds in results.items():
        if key in TARGETS:
            verdict = "within" if seconds <= TARGETS[key] else "OVER"
            print(f"target {key} ({mode}): {TARGETS[key]} s -> {verdict} ({seconds:.3f} s)")

    hint = f"{sys.executable} -X importtime -c 'import kpidsl.cli, kpidsl.pipeline, kpidsl.check'"
    print(f"import-time breakdown: {hint} 2>&1 | sort -t'|' -k2 -n | tail -20")
    if args.importtime:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                               "import kpidsl.cli, kpidsl.pipeline, kpidsl.check; kpidsl.check._passes()"],
                              capture_output=True, text=True, cwd=ROOT)
        rows = [line for line in proc.stderr.splitlines() if line.startswith("import time:") and "|" in line]
        rows = [r for r in rows if r.split("|")[1].strip().isdigit()]
        rows.sort(key=lambda r: int(r.split("|")[1]), reverse=True)
        print("slowest imports (cumulative microseconds):")
        for row in rows[:15]:
            print("   ", row.removeprefix("import time:").strip())
    probe = ("import sys\nfrom kpidsl.cli import main\ntry:\n    main(['check', sys.argv[1]])\n"
             "except SystemExit:\n    pass\n"
             "heavy = [m for m in ('duckdb', 'jinja2', 'pydantic') if m in sys.modules]\n"
             "print(','.join(heavy) or 'none', file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, str(SINGLE)], capture_output=True, text=True, cwd=ROOT)
    print(f"heavy libraries loaded by `kpidsl check`: {proc.stderr.strip().splitlines()[-1]}")

if __name__ == "__main__":
    main()
