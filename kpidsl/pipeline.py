"""The one place the stages are chained: paths -> load -> parse -> lower -> resolve -> check,
and for a run: check -> load and validate the data -> score -> write the outputs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
    per_file: dict[str, list[Diagnostic]] = {}
    for path in files:
        remembered = _remembered(folder, path)
        if remembered is not None:
            per_file[path] = remembered
    to_check = [path for path in files if path not in per_file]
    if to_check:
        from kpidsl.check_split import check_all
        from kpidsl.semantic.resolve import Loader

        loader = Loader()

        def check_one(path: str) -> tuple[list[Diagnostic], list[str]]:
            loader.visited = []
            return check_file(path, loader)[1], loader.visited

        for path, (diags, visited) in zip(to_check, check_all(to_check, check_one)):
            per_file[path] = diags
            if folder is not None:
                from kpidsl import check_cache

                check_cache.store(folder, path, visited, diags)
    found = [d for path in files for d in per_file[path]]
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
RUN_INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or SIGHUP

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
    exit_code: int = 0  # for RUN_INTERRUPTED: 128 + the signal's number
    lang: Any = None  # kpidsl.i18n.Lang: the language the outputs were written in


@dataclass(frozen=True)
class OutputOptions:
    """How the outputs are written: their language (None: the framework's), the long tables, the CSV BOM,
    and whether CSV cells are written raw (not neutralised against spreadsheet formulas)."""

    lang: str | None = None
    long: bool = False
    bom: bool = True
    raw_csv: bool = False


def run_framework(framework: str, data: str, period: str, out: str, formats: Sequence[str] = ("csv", "parquet"),
                  reject_invalid: bool = False, progress: Callable[[str], None] | None = None,
                  what_if: bool = False, allow_empty: Sequence[str] = (),
                  options: OutputOptions = OutputOptions(),
                  notice: Callable[[str], None] | None = None) -> RunReport:
    """Check the framework, load and validate the period's data, score it, and write every output to `out`.

    Nothing is written unless everything succeeds; `out` is then replaced as a whole
    (kpidsl/output/folder.py). A period before the framework's `effective` date is refused
    unless `what_if` (then the manifest and the report say the run is a what-if), and so is an
    input read by period that has no row in the period, unless it is named in `allow_empty`.
    `notice` hears what was found and repaired next to `out` (an interrupted earlier run);
    `progress` hears each stage as it starts.
    """
    from kpidsl.data.sources import SourceError, open_source
    from kpidsl.output.folder import out_problem
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
    overlap = _overlap(out, data, program.files)
    if overlap:
        return RunReport(RUN_INPUT, warnings, message=f"--out: {overlap}")
    mismatch = _period_mismatch(program, the_period) or (None if what_if else before_effective(program, the_period))
    if mismatch:
        return RunReport(RUN_INPUT, warnings, message=f"--period: {mismatch}")
    dated = sorted(i.name for i in program.inputs.values() if i.period_by)
    unknown = [name for name in allow_empty if name not in dated]
    if unknown:
        return RunReport(RUN_INPUT, warnings, message=f"--allow-empty: {unknown[0]} is not an input read by period; "
                                                      f"those are: {', '.join(dated) or 'none'}")
    run = _Run(program, source, data, the_period, out, formats, reject_invalid, options, say, notice,
               what_if=what_if, allow_empty=tuple(allow_empty))
    return run.report(warnings)


class _Run:
    """One run from the lock on the output folder to its release: every exit path cleans up."""

    def __init__(self, program: Program, source: Any, data: str, period: Any, out: str, formats: Sequence[str],
                 reject_invalid: bool, options: OutputOptions, say: Callable[[str], None],
                 notice: Callable[[str], None] | None, what_if: bool = False,
                 allow_empty: tuple[str, ...] = ()) -> None:
        from kpidsl.output.folder import OutputFolder

        self.what_if, self.allow_empty = what_if, allow_empty
        self.program, self.source, self.data, self.period = program, source, data, period
        self.out, self.formats, self.reject_invalid, self.options = out, formats, reject_invalid, options
        self.say, self.notice = say, notice or (lambda _text: None)
        self.folder = OutputFolder(out)

    def report(self, warnings: tuple[Diagnostic, ...]) -> RunReport:
        from kpidsl import interrupts
        from kpidsl.output.folder import FolderBusy

        failed = True
        try:
            try:
                self.folder.lock()
            except FolderBusy as err:
                return RunReport(RUN_INPUT, warnings, message=f"--out: {err}")
            except OSError as err:
                return RunReport(RUN_INPUT, warnings, message=f"--out: cannot make or lock {self.out}: "
                                                              f"{err.strerror or err}")
            outcome = self._locked(warnings)
            failed = outcome.outcome != RUN_OK
            if interrupts.received() is not None and outcome.outcome != RUN_OK:
                # DuckDB may report a signal as its own error, which a stage reads as its own failure.
                return self._interrupted(warnings, KeyboardInterrupt())
            return outcome
        except KeyboardInterrupt as err:
            return self._interrupted(warnings, err)
        except Exception as err:
            if interrupts.received() is None:
                raise
            return self._interrupted(warnings, err)  # DuckDB's "Query interrupted" after a signal
        finally:
            self.folder.release(failed)

    def _interrupted(self, warnings: tuple[Diagnostic, ...], err: BaseException) -> RunReport:
        from kpidsl import interrupts

        where = f"the new results are in {self.out}" if self.folder.placed else f"{self.out} was left as it was"
        return RunReport(RUN_INTERRUPTED, warnings, message=f"interrupted ({interrupts.describe(err)}); {where}",
                         exit_code=interrupts.exit_code(err))

    def _load_and_score(self, con: Any, warnings: tuple[Diagnostic, ...]) -> Any:
        """The loaded data (scored into the `results` tables), or the report of why the run stops here."""
        from kpidsl import faults
        from kpidsl.data.problems import render_problems
        from kpidsl.data.validate import load_and_validate

        try:
            self.say(f"loading data for {self.period.label}")
            load = load_and_validate(con, self.program, self.source, self.period, self.reject_invalid,
                                     period_rows=self.allow_empty)
            if not load.ok:
                return RunReport(RUN_DATA, warnings, problems=render_problems(load))
            faults.point("loaded")
            self.say("scoring")
            failure = _score(con, self.program, self.period)
        except Exception as err:
            if not _is_io_error(err):
                raise
            # DuckDB's spilled tables live in the work folder next to --out: a full disk there ends the run.
            reason = _io_reason(str(err))
            if reason == "Out of Memory":
                reason = "out of memory"
            else:
                reason += f" (in the work folder next to {self.out})"
            return RunReport(RUN_INPUT, warnings,
                             message=f"cannot finish the run: {reason}; {self.out} was left as it was")
        if isinstance(failure, Diagnostic):
            return RunReport(RUN_FRAMEWORK, (*warnings, failure))
        if failure:
            return RunReport(RUN_FRAMEWORK, warnings, message=failure)
        faults.point("scored")
        return load

    def _locked(self, warnings: tuple[Diagnostic, ...]) -> RunReport:
        from kpidsl import faults
        from kpidsl.output.folder import out_problem
        from kpidsl.output.tables import OutputError
        from kpidsl.sql.connect import connect

        for text in self.folder.recover():
            self.notice(text)
        problem = out_problem(self.out)  # again: the folder may have changed while this run was checking
        if problem:
            return RunReport(RUN_INPUT, warnings, message=f"--out: {problem}")
        faults.point("locked")
        work = self.folder.new_work()
        with _temporary_files_in(work):
            con = connect(memory_limit=RUN_MEMORY_LIMIT, temp_directory=work)
            try:
                scored = self._load_and_score(con, warnings)
                if isinstance(scored, RunReport):
                    return scored
                self.say(f"writing {self.out}")
                try:
                    manifest = write_run(con, self.program, scored, self.data, self.period, self.folder,
                                         self.formats, what_if=self.what_if, allow_empty=self.allow_empty,
                                         options=self.options)
                except (OSError, OutputError) as err:
                    return RunReport(RUN_INPUT, warnings, message=_write_failure(err, self.out))
                except Exception as err:
                    if not _is_io_error(err):
                        raise
                    return RunReport(RUN_INPUT, warnings, message=_write_failure(err, self.out))
            finally:
                con.close()
        from kpidsl.i18n import language_of

        return RunReport(RUN_OK, warnings, manifest=manifest, out_dir=self.out,
                         lang=language_of(self.program.root, self.options.lang, self.program.frameworks))


def _write_failure(err: BaseException, out: str) -> str:
    """`cannot write the outputs: No space left on device (people.csv); out was left as it was`."""
    if isinstance(err, OSError):
        why = err.strerror or str(err)
        where = f" ({os.path.basename(err.filename)})" if err.filename else ""
    else:
        why = _io_reason(str(err))
        where = ""
    return f"cannot write the outputs: {why}{where}; {out} was left as it was"


def _is_io_error(err: BaseException) -> bool:
    """A DuckDB error that is really the file system's (disk full, file too large, permission)."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover
        return False
    return isinstance(err, (duckdb.IOException, duckdb.PermissionException, duckdb.OutOfMemoryException))


def _io_reason(text: str) -> str:
    """The file system's words in a DuckDB I/O error, without DuckDB's paths and prefixes."""
    for phrase in ("No space left on device", "File too large", "Permission denied", "Read-only file system",
                   "Disk quota exceeded", "File name too long", "Out of Memory"):
        if phrase.lower() in text.lower():
            return phrase
    first = text.strip().splitlines()[0] if text.strip() else "an I/O error"
    return first.replace("IO Error: ", "")[:200]


@contextmanager
def _temporary_files_in(folder: str) -> Iterator[None]:
    """Python's temporary files (the spreadsheet reader's and writer's) go into the run's work folder,
    which the run deletes, and which the next run deletes if this one is killed."""
    import tempfile

    saved = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _overlap(out: str, data: str, framework_files: Sequence[str]) -> str | None:
    """Why replacing `out` would delete or mix with the run's own inputs, if it would."""
    target = os.path.realpath(out)

    def inside(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

    source = os.path.realpath(data)
    if inside(source, target):
        return (f"the data ({data}) is inside {out}, which a run replaces as a whole; "
                "write the results to a folder outside the data")
    if inside(target, source):
        return f"{out} is inside the data folder {data}; write the results to a folder outside the data"
    for path in framework_files:
        if inside(os.path.realpath(path), target):
            return (f"the framework file {path} is inside {out}, which a run replaces as a whole; "
                    "write the results to a folder outside the frameworks")
    return None


RUN_MEMORY_LIMIT = "1GB"
"""DuckDB's memory for a run: past it, the work and result tables spill to a folder on disk, so the
run's memory stays about the same from a hundred thousand people to a million (about 1.2 GB)."""


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


def write_run(con: Any, program: Program, load: Any, data: str, period: Any, folder: Any,
              formats: Sequence[str], what_if: bool = False, allow_empty: Sequence[str] = (),
              options: OutputOptions = OutputOptions()) -> Any:
    """Write every output into a fresh folder next to the output folder, then put it in place; the manifest."""
    from kpidsl import __version__, faults
    from kpidsl.data.problems import write_rejects
    from kpidsl.i18n import language_of
    from kpidsl.output import manifest as mf
    from kpidsl.output.folder import OutputFolder
    from kpidsl.output.report import report_data, write_report
    from kpidsl.output.sources import collect_sources, write_sources
    from kpidsl.output.tables import framework_evidence, write_evidence, write_tables

    if not isinstance(folder, OutputFolder):
        folder = OutputFolder(folder)
    lang = language_of(program.root, options.lang, program.frameworks)
    neutralise = not options.raw_csv
    staging = folder.new_staging()
    evidence = framework_evidence(program)
    sources = collect_sources(program.files)
    names: list[str] = write_sources(staging, sources)
    if load.reject_invalid:
        write_rejects(con, load, os.path.join(staging, "rejects.csv"), neutralise=neutralise)
        names.append("rejects.csv")
    evidence_files = write_evidence(con, staging, evidence)
    faults.point("evidence")
    names += write_tables(con, staging, evidence, formats, lang=lang, long=options.long, bom=options.bom,
                          neutralise=neutralise) + evidence_files
    manifest = mf.Manifest(engine=mf.Engine(version=__version__), framework=mf.framework_info(program, sources),
                           period=mf.period_info(period), data=mf.data_info(data, load, allow_empty),
                           results=mf.result_counts(con), quota=mf.quota_decisions(con), what_if=what_if,
                           population=mf.population_counts(con))
    write_report(os.path.join(staging, "report.html"), report_data(con, manifest, evidence, lang))
    names.append("report.html")
    faults.point("report")
    manifest = manifest.model_copy(update={"outputs": mf.output_files(staging, names)})
    with open(os.path.join(staging, mf.MANIFEST_FILE), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(manifest.to_json())
    faults.point("manifest")
    folder.publish(staging)
    return manifest


def out_problem(out: str) -> str | None:
    """Why `out` cannot receive a run's outputs (kpidsl/output/folder.py)."""
    from kpidsl.output.folder import out_problem as problem

    return problem(out)


def publish(staging: str, out: str) -> None:
    """Put the finished `staging` folder at `out` (kpidsl/output/folder.py)."""
    from kpidsl.output.folder import OutputFolder

    OutputFolder(out).publish(staging)
