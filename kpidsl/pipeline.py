"""The one place the stages are chained: paths -> load -> parse -> lower -> resolve -> check,
and for a run: check -> load and validate the data -> score -> write the outputs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpidsl.diagnostics import Diagnostic, sorted_diagnostics
from kpidsl.diagnostics.codes import UNREADABLE

if TYPE_CHECKING:
    from kpidsl.semantic.resolve import Loader, Program


@dataclass(frozen=True)
class CheckReport:
    files: tuple[str, ...]
    missing_paths: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors


def check_file(path: str, loader: Loader | None = None) -> tuple[Program | None, list[Diagnostic]]:
    """Resolve and check one root framework file."""
    from kpidsl.check import check_program
    from kpidsl.semantic.resolve import Loader, resolve

    program, diags = resolve(path, loader or Loader())
    if program is not None:
        diags.extend(check_program(program))
    return program, diags


def check_paths(paths: list[str], strict: bool = False, cache: bool = False) -> CheckReport:
    """Check every framework file named or found below the folders named.

    With `cache`, findings are remembered per file (kpidsl/check_cache.py) and a
    file whose inputs did not change is answered without parsing anything.
    """
    from kpidsl.paths import expand_paths

    files, missing = expand_paths(paths)
    folder = None
    if cache:
        from kpidsl.cachedir import cache_dir

        folder = cache_dir()
    found: list[Diagnostic] = []
    loader = None
    for path in files:
        remembered = _remembered(folder, path)
        if remembered is not None:
            found.extend(remembered)
            continue
        if loader is None:
            from kpidsl.semantic.resolve import Loader

            loader = Loader()
        loader.visited = []
        diags = check_file(path, loader)[1]
        found.extend(diags)
        if folder is not None:
            from kpidsl import check_cache

            check_cache.store(folder, path, loader.visited, diags)
    if strict:
        found = [d if d.is_error else d.as_warning_error() for d in found]
    return CheckReport(tuple(files), tuple(missing), tuple(sorted_diagnostics(found)))


def _remembered(folder, path: str) -> list[Diagnostic] | None:
    if folder is None:
        return None
    from kpidsl import check_cache

    return check_cache.lookup(folder, path)


# ---------------------------------------------------------------- run: check -> load -> score -> write

RUN_OK = "ok"
RUN_FRAMEWORK = "framework"  # the framework has errors (or the engine cannot run one of its rules)
RUN_INPUT = "input"          # an argument or a file cannot be used
RUN_DATA = "data"            # the data has problems

# Diagnostics that mean the framework file itself could not be read (an input error, not a finding).
_UNREADABLE = UNREADABLE


@dataclass(frozen=True)
class RunReport:
    """What a run did: its outcome and, depending on it, the diagnostics, the message, the data problems
    or the manifest of the files written."""

    outcome: str
    diagnostics: tuple[Diagnostic, ...] = ()
    message: str = ""
    problems: str = ""
    manifest: Any = None  # kpidsl.output.manifest.Manifest when the outputs were written
    out_dir: str | None = None
    lang: Any = None  # kpidsl.i18n.Lang: the language the outputs were written in


@dataclass(frozen=True)
class OutputOptions:
    """How the outputs are written: their language (None: the framework's), the long tables, the CSV BOM."""

    lang: str | None = None
    long: bool = False
    bom: bool = True


def run_framework(framework: str, data: str, period: str, out: str, formats: Sequence[str] = ("csv", "parquet"),
                  reject_invalid: bool = False, progress: Callable[[str], None] | None = None,
                  what_if: bool = False, allow_empty: Sequence[str] = (),
                  options: OutputOptions = OutputOptions()) -> RunReport:
    """Check the framework, load and validate the period's data, score it, and write every output to `out`.

    Nothing is written unless everything succeeds; `out` is then replaced as a whole (see `publish`).
    A period before the framework's `effective` date is refused unless `what_if` (then the manifest
    and the report say the run is a what-if), and so is an input read by period that has no row in
    the period, unless it is named in `allow_empty`.
    """
    from kpidsl.data.sources import SourceError, open_source
    from kpidsl.output.tables import FORMATS as OUTPUT_FORMATS
    from kpidsl.period import parse_period

    say = progress or (lambda _stage: None)
    try:
        the_period = parse_period(period)
    except ValueError as err:
        return RunReport(RUN_INPUT, message=f"--period: {err}")
    bad = [f for f in formats if f not in OUTPUT_FORMATS]
    if bad:
        return RunReport(RUN_INPUT, message=f"--format: unknown format {bad[0]!r}; "
                                            f"choose from {', '.join(OUTPUT_FORMATS)}")
    try:
        source = open_source(data)
    except SourceError as err:
        return RunReport(RUN_INPUT, message=f"--data: {err}")
    problem = out_problem(out)
    if problem:
        return RunReport(RUN_INPUT, message=f"--out: {problem}")

    say("checking the framework")
    program, diags = check_file(framework)
    diags = sorted_diagnostics(diags)
    if any(d.code in _UNREADABLE for d in diags):
        return RunReport(RUN_INPUT, tuple(diags))
    if program is None or any(d.is_error for d in diags):
        return RunReport(RUN_FRAMEWORK, tuple(diags))
    warnings = tuple(diags)
    mismatch = _period_mismatch(program, the_period) or (None if what_if else before_effective(program, the_period))
    if mismatch:
        return RunReport(RUN_INPUT, warnings, message=f"--period: {mismatch}")
    dated = sorted(i.name for i in program.inputs.values() if i.period_by)
    unknown = [name for name in allow_empty if name not in dated]
    if unknown:
        return RunReport(RUN_INPUT, warnings, message=f"--allow-empty: {unknown[0]} is not an input read by period; "
                                                      f"those are: {', '.join(dated) or 'none'}")

    import duckdb

    from kpidsl.data.problems import render_problems
    from kpidsl.data.validate import load_and_validate
    from kpidsl.output.tables import OutputError

    work = _work_folder(out)
    con = duckdb.connect(config={"memory_limit": RUN_MEMORY_LIMIT, "temp_directory": work})
    try:
        say(f"loading data for {the_period.label}")
        load = load_and_validate(con, program, source, the_period, reject_invalid, period_rows=allow_empty)
        if not load.ok:
            return RunReport(RUN_DATA, warnings, problems=render_problems(load))
        say("scoring")
        failure = _score(con, program, the_period)
        if isinstance(failure, Diagnostic):
            return RunReport(RUN_FRAMEWORK, (*warnings, failure))
        if failure:
            return RunReport(RUN_FRAMEWORK, warnings, message=failure)
        say(f"writing {out}")
        try:
            manifest = write_run(con, program, load, data, the_period, out, formats, what_if=what_if,
                                 allow_empty=allow_empty, options=options)
        except (OSError, OutputError) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            where = f" ({err.filename})" if isinstance(err, OSError) and err.filename else ""
            return RunReport(RUN_INPUT, warnings, message=f"cannot write the outputs: {why}{where}; "
                                                          f"{out} was left as it was")
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    from kpidsl.i18n import language_of

    return RunReport(RUN_OK, warnings, manifest=manifest, out_dir=out,
                     lang=language_of(program.root, options.lang, program.frameworks))


RUN_MEMORY_LIMIT = "1GB"
"""DuckDB's memory for a run: past it, the work and result tables spill to a folder on disk, so the
run's memory stays about the same from a hundred thousand people to a million (about 1.2 GB)."""


def _work_folder(out: str) -> str:
    """A new, private folder for DuckDB's spilled tables: next to `out` when that folder exists (a disk
    the outputs fit on, unlike a temp folder that may live in memory), else in the temp folder."""
    import tempfile

    target = os.path.abspath(out)
    parent = os.path.dirname(target)
    prefix = f".{os.path.basename(target)}.work-"
    if os.path.isdir(parent):
        try:
            return tempfile.mkdtemp(prefix=prefix, dir=parent)
        except OSError:
            pass  # a folder we cannot write to: the outputs will say so; spill to the temp folder meanwhile
    return tempfile.mkdtemp(prefix=prefix)


def _period_mismatch(program: Program, period: Any) -> str | None:
    """Why the framework cannot score `period`: it is not the framework's kind of period, nor a longer one
    that a `rollup ... per <kind>` builds from the framework's periods."""
    from kpidsl.period import KINDS

    kind = program.root.period
    if kind is None or period.kind == kind:
        return None
    name = program.root.id
    if KINDS.index(period.kind) < KINDS.index(kind):
        return f"{name} scores each {kind}; {period.label} is a {period.kind}, shorter than that"
    if not any(r.per == period.kind for r in program.rollups.values()):
        return (f"{name} scores each {kind}; {period.label} is a {period.kind} and {name} declares no "
                f"`rollup ... per {period.kind}` to build it from its {kind}s")
    return None


def before_effective(program: Program, period: Any, way_out: str = "pass --what-if") -> str | None:
    """Why the root framework's `effective` date keeps it from scoring `period` (see period.effective_problem)."""
    from kpidsl.period import effective_problem

    root = program.root
    name = f"{root.id} {root.version}" if root.version else root.id
    return effective_problem(name, root.effective, period, root.period, way_out)


def _score(con: Any, program: Program, period: Any) -> Diagnostic | str | None:
    """Fill the `results` tables; why not, when the engine cannot score this framework.

    A failure tied to a rule of the framework is a Diagnostic at that rule; one that
    is not (no period at all) is a plain message.
    """
    from kpidsl.check import CheckContext
    from kpidsl.scoring import EngineError, score_period
    from kpidsl.semantic.scope import scope_of

    try:
        score_period(con, program, scope_of(CheckContext(program)), period)
    except EngineError as err:
        if err.span is None:
            return f"cannot score the period: {err}"
        return Diagnostic("KPI097", f"cannot score the period here: {err.message}", err.span, help=err.help)
    return None


def write_run(con: Any, program: Program, load: Any, data: str, period: Any, out: str,
              formats: Sequence[str], what_if: bool = False, allow_empty: Sequence[str] = (),
              options: OutputOptions = OutputOptions()) -> Any:
    """Write every output into a fresh folder next to `out`, then put it in place; returns the manifest."""
    from kpidsl import __version__
    from kpidsl.data.problems import write_rejects
    from kpidsl.i18n import language_of
    from kpidsl.output import manifest as mf
    from kpidsl.output.report import report_data, write_report
    from kpidsl.output.sources import collect_sources, write_sources
    from kpidsl.output.tables import framework_evidence, write_evidence, write_tables

    lang = language_of(program.root, options.lang, program.frameworks)
    long, bom = options.long, options.bom
    staging = _staging_folder(out)
    try:
        evidence = framework_evidence(program)
        sources = collect_sources(program.files)
        names: list[str] = write_sources(staging, sources)
        if load.reject_invalid:
            write_rejects(con, load, os.path.join(staging, "rejects.csv"))
            names.append("rejects.csv")
        evidence_files = write_evidence(con, staging, evidence)
        names += write_tables(con, staging, evidence, formats, lang=lang, long=long, bom=bom) + evidence_files
        manifest = mf.Manifest(engine=mf.Engine(version=__version__), framework=mf.framework_info(program, sources),
                               period=mf.period_info(period), data=mf.data_info(data, load, allow_empty),
                               results=mf.result_counts(con), quota=mf.quota_decisions(con), what_if=what_if,
                               population=mf.population_counts(con))
        write_report(os.path.join(staging, "report.html"), report_data(con, manifest, evidence, lang))
        names.append("report.html")
        manifest = manifest.model_copy(update={"outputs": mf.output_files(staging, names)})
        with open(os.path.join(staging, mf.MANIFEST_FILE), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(manifest.to_json())
        publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def out_problem(out: str) -> str | None:
    """Why `out` cannot receive a run's outputs, if it cannot.

    An existing folder is replaced only when it is empty or holds an earlier run
    (a kpidsl manifest), so a mistyped --out never deletes someone's files.
    """
    from kpidsl.output.manifest import is_run_folder

    if os.path.lexists(out) and not os.path.isdir(out):
        return f"{out} exists and is not a folder"
    if os.path.islink(out):
        return f"{out} is a symbolic link; name the folder itself"
    if os.path.isdir(out):
        try:
            empty = not os.listdir(out)
        except OSError as err:
            return f"cannot read the folder {out}: {err.strerror or err}"
        if not empty and not is_run_folder(out):
            return (f"{out} holds files that kpidsl did not write (no manifest.json of an earlier run); "
                    "name a new folder or an earlier run's folder")
    return None


def _staging_folder(out: str) -> str:
    """A new, private folder next to `out` (same file system, so renaming it is atomic)."""
    import tempfile

    target = os.path.abspath(out)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the result should look like any new folder
    return staging


def publish(staging: str, out: str) -> None:
    """Put the finished `staging` folder at `out`; an earlier `out` is moved aside first and deleted last.

    If the final rename fails the earlier folder is put back, so `out` is always either
    the complete earlier run or the complete new one.
    """
    import tempfile

    target = os.path.abspath(out)
    problem = out_problem(target)
    if problem:
        raise OSError(problem)
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    holder = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=os.path.dirname(target))
    old = os.path.join(holder, os.path.basename(target))
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        shutil.rmtree(holder, ignore_errors=True)
        raise
    shutil.rmtree(holder, ignore_errors=True)
