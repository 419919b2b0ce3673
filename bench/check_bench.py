"""Times `kpidsl check`: a generated 5,000-criterion set in-process and cold, and one framework file cold.

    .venv/bin/python bench/check_bench.py [--criteria 5000] [--files 40] [--runs 7] [--importtime]

"Cold" is a new process per run, as a person or CI runs it; the parse tables
come from the per-user cache (see docs/cli.md, KPIDSL_CACHE_DIR), which one
warm-up run fills. The cold commands take turns, one run of each per round,
so a burst of other work on the machine falls on all of them alike; figures
are medians over --runs rounds. The yardstick is the least any pure-Python
checker pays: a new Python process that reads the same files and splits them
into tokens with kpidsl's one pattern, and does nothing else.
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


def cold(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, float, int]]:
    """Per command: median and best wall time, median CPU time (user + system) and exit code, in new processes.

    One warm-up run of each fills the parse-table cache; then the commands take turns, one run each per round.
    """
    # As installed, kpidsl's modules are compiled once (pip writes their bytecode); a setting that forbids
    # writing bytecode would make every cold run compile them again, about 0.1 s.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    codes = {key: subprocess.run(command, capture_output=True, cwd=ROOT, env=env).returncode
             for key, command in commands.items()}
    walls: dict[str, list[float]] = {key: [] for key in commands}
    cpus: dict[str, list[float]] = {key: [] for key in commands}
    for _ in range(runs):
        for key, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, cwd=ROOT, env=env)
            walls[key].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[key].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {key: (statistics.median(walls[key]), min(walls[key]), statistics.median(cpus[key]), codes[key])
            for key in commands}


YARDSTICK = """\
import re, sys
pattern = re.compile(sys.argv[1], re.VERBOSE)
count = 0
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as fh:
        count += sum(1 for m in pattern.finditer(fh.read()) if m.lastgroup != "WS")
print(count)
"""


def stages(folder: Path) -> dict[str, float]:
    """Where in-process time goes: read+decode, parse and lower (the tree way, and in one pass), resolve+check."""
    from kpidsl.pipeline import check_file
    from kpidsl.semantic.resolve import LoadedFile, Loader, expand_paths
    from kpidsl.syntax.inline import parse_and_lower
    from kpidsl.syntax.lower import lower
    from kpidsl.syntax.parser import decode, parse_source

    files, _ = expand_paths([str(folder)])
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    sources = [decode(f, Path(f).read_bytes())[0] for f in files]
    t1 = time.perf_counter()
    parsed = [parse_source(s) for s in sources]
    t2 = time.perf_counter()
    [lower(p) for p in parsed]
    t3 = time.perf_counter()
    lowered = [parse_and_lower(s) for s in sources]
    t4 = time.perf_counter()
    loader = Loader()
    for f, s, (fw, diags) in zip(files, sources, lowered):
        loader.files[os.path.normpath(f)] = LoadedFile(f, s, fw, diags)
    for f in files:
        check_file(f, loader)
    t5 = time.perf_counter()
    out.update({"read+decode": t1 - t0, "parse to a tree (the tree way, kept for errors)": t2 - t1,
                "lower the tree": t3 - t2, "parse and lower in one pass (what check runs)": t4 - t3,
                "resolve+check": t5 - t4})
    return out


def _size(path: Path) -> str:
    files = list(path.rglob("*.kpi")) if path.is_dir() else [path]
    return f"{sum(f.stat().st_size for f in files) / 1024:,.0f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", type=int, default=5000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare", type=Path, metavar="TREE",
                        help="also time the bars with the kpidsl of TREE (earlier code), runs alternating")
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
        print(f"    {name:<48} {seconds:.3f} s")

    small = folder.parent / "small.kpi"
    targets = {"set": folder, "single": SINGLE, "small": small}
    commands: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for mode, extra in (("parsed", ["--no-cache"]), ("unchanged", [])):
        for key, path in targets.items():
            shown = [*extra, str(path.relative_to(ROOT))]
            commands[f"{key} {mode}"] = kpidsl_command() + ["check", *shown]
            labels[f"{key} {mode}"] = f"`kpidsl check {' '.join(shown)}` ({_size(path)})"
    set_files = sorted(str(p.relative_to(ROOT)) for p in folder.rglob("*.kpi"))
    from kpidsl.syntax.lexer import _MASTER
    commands["yardstick set"] = [sys.executable, "-c", YARDSTICK, _MASTER.pattern, *set_files]
    labels["yardstick set"] = f"yardstick: read and tokenise the set, nothing else ({_size(folder)})"
    commands["yardstick single"] = [sys.executable, "-c", YARDSTICK, _MASTER.pattern, str(SINGLE.relative_to(ROOT))]
    labels["yardstick single"] = f"yardstick: read and tokenise {SINGLE.relative_to(ROOT)}"
    commands["python -c pass"] = [sys.executable, "-c", "pass"]
    labels["python -c pass"] = "`python -c pass`"
    commands["kpidsl --version"] = kpidsl_command() + ["--version"]
    labels["kpidsl --version"] = "`kpidsl --version`"
    if args.compare:
        earlier = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(args.compare.resolve())!r}); "
                   "from kpidsl.cli import main; main(sys.argv[1:])"]
        for key in ("set parsed", "single parsed"):
            commands[f"{key} earlier"] = earlier + commands[key][len(kpidsl_command()):]
            labels[f"{key} earlier"] = labels[key] + f" with {args.compare}"
    timed = cold(commands, args.runs)
    print(f"cold processes, {args.runs} rounds, the commands taking turns "
          f"(load average now {os.getloadavg()[0]:.2f}):")
    for key, (med, best, cpu, code) in timed.items():
        print(f"    {labels[key]}: median {med:.3f} s  best {best:.3f} s  cpu {cpu:.3f} s  (exit {code})")
    print("the bars (every file parsed, cold, as a user sees it):")
    for key, name in (("set", "5,000-criterion set"), ("single", "one file")):
        med, best, cpu, _ = timed[f"{key} parsed"]
        verdict = "holds" if med <= TARGETS[key] else "MISSED"
        print(f"    {name}: {med:.3f} s wall (cpu {cpu:.3f} s) against {TARGETS[key]} s -> {verdict}; "
              f"the yardstick {timed[f'yardstick {key}'][0]:.3f} s")

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
