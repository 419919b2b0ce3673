"""The command line: reads arguments, calls the pipeline, prints, and chooses the exit code."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from kpidsl import __version__
from kpidsl.diagnostics.codes import UNREADABLE
from kpidsl.i18n import LANGUAGES
from kpidsl.text import printable

if TYPE_CHECKING:  # the pipeline is imported inside each command, so `--help` and `--version` stay instant
    from kpidsl.diagnostics import Diagnostic

# Exit codes, the same for every command.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2

# Findings that mean the input itself could not be read (not a framework problem): exit 2.
UNREADABLE_CODES = UNREADABLE

ISSUE_HINT = "this is a bug in kpidsl; please report it with the command and the files that caused it"


class _Group(click.Group):
    """The command group, with a last-resort handler so no traceback ever reaches a user."""

    def invoke(self, ctx: click.Context) -> Any:
        from kpidsl import interrupts

        try:
            result = super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except (click.exceptions.Exit, SystemExit) as done:
            # A signal that some layer turned into an ordinary failure (DuckDB's own interrupt error
            # read as a data problem, say) still ends the command as an interruption.
            code = done.exit_code if isinstance(done, click.exceptions.Exit) else done.code
            if interrupts.received() is not None and code != interrupts.exit_code():
                self._interrupted(ctx, KeyboardInterrupt())
            raise
        except KeyboardInterrupt as err:
            self._interrupted(ctx, err)
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise  # stdout closed early (`| head`): click exits quietly
            if interrupts.received() is not None:
                self._interrupted(ctx, err)
            self._internal_error(ctx, err)
        except Exception as err:  # noqa: BLE001 - the one place every unexpected error is caught
            if interrupts.received() is not None:
                self._interrupted(ctx, err)  # DuckDB reports a signal as its own "Query interrupted" error
            self._internal_error(ctx, err)
        if interrupts.received() is not None:
            self._interrupted(ctx, KeyboardInterrupt())
        return result

    @staticmethod
    def _interrupted(ctx: click.Context, err: BaseException) -> None:
        """Ctrl-C, SIGTERM: one line, and 128 + the signal's number (130 for Ctrl-C), never a traceback."""
        from kpidsl import interrupts

        click.echo(f"kpidsl: interrupted ({interrupts.describe(err)})", err=True)
        ctx.exit(interrupts.exit_code(err))

    @staticmethod
    def _internal_error(ctx: click.Context, err: BaseException) -> None:
        if os.environ.get("KPIDSL_DEBUG"):
            raise err
        click.echo(printable(f"kpidsl: internal error: {type(err).__name__}: {err}"), err=True)
        click.echo(f"kpidsl: {ISSUE_HINT} (set KPIDSL_DEBUG=1 to see the traceback)", err=True)
        ctx.exit(EXIT_INPUT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kpidsl", message="%(prog)s %(version)s")
def main() -> None:
    """kpidsl: KPI frameworks as plain text.

    Exit codes: 0 clean, 1 findings (or changes with --check/--diff), 2 usage or input error.
    """
    import gc

    from kpidsl import interrupts

    # Parsing allocates many small objects and makes few cycles: collecting less
    # often takes about 15% off checking a large framework set (bench/).
    gc.set_threshold(200_000, 30, 30)
    # SIGTERM (a CI job cancelled, `timeout`, a service manager) and SIGHUP stop a command the way
    # Ctrl-C does: through the clean-up of every exit path.
    interrupts.install()


# ---------------------------------------------------------------- check

@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["human", "json", "github"]), default="human",
              show_default=True, help="human-readable, one JSON document, or GitHub Actions annotations")
@click.option("--strict", is_flag=True, help="warnings fail the check too")
@click.option("--color/--no-color", default=None,
              help="colour the human output (default: only when stdout is a terminal and NO_COLOR is unset)")
@click.option("--no-cache", is_flag=True,
              help="check every file afresh instead of reusing findings for files that did not change")
def check(paths: tuple[str, ...], output_format: str, strict: bool, color: bool | None, no_cache: bool) -> None:
    """Check framework files, and every *.kpi file below the folders given."""
    from kpidsl.diagnostics import render_github, render_human, render_json, sorted_diagnostics
    from kpidsl.pipeline import check_paths

    report = check_paths(list(paths), strict=strict, cache=not no_cache)
    diags = sorted_diagnostics([*_path_problems(paths, report.files, report.missing_paths), *report.diagnostics])
    files = list(report.files)

    if output_format == "json":
        click.echo(render_json(diags, files))
    elif output_format == "github":
        for d in diags:
            click.echo(printable(render_github(d)))
        click.echo(_summary(diags, len(files)), err=True)
    else:
        use_color = _want_color(color)
        for d in diags:
            click.echo(render_human(d, color=use_color), color=use_color)
        click.echo(_summary(diags, len(files)))
    sys.exit(_exit_code(diags))


def _path_problems(paths: Sequence[str], files: Sequence[str], missing: Sequence[str]) -> list[Diagnostic]:
    """A diagnostic for each path that names nothing to check."""
    from kpidsl.diagnostics import Diagnostic
    from kpidsl.paths import stat_failure
    from kpidsl.source import unknown_span

    found: list[Diagnostic] = []
    for p in missing:
        try:
            os.stat(p)
            why = "no such folder or file"
        except OSError as err:
            why = stat_failure(p, err)
        # A loop of links or a link to nothing is named as such, not as a path that does not exist.
        why = "no such file or folder" if why == "no such folder or file" else f"cannot read the path: {why}"
        found.append(Diagnostic("KPI010", why, unknown_span(p), help="check the spelling of the path"))
    for p in paths:
        if os.path.isdir(p) and not any(_is_below(f, p) for f in files):
            found.append(Diagnostic("KPI010", "this folder holds no `.kpi` files", unknown_span(p),
                                    help="name a framework file or a folder that contains some"))
    return found


def _is_below(path: str, folder: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def _summary(diags: Sequence[Diagnostic], n_files: int) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(n_files, 'file')}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _want_color(flag: bool | None, stream: Any = None) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _exit_code(diags: Sequence[Diagnostic]) -> int:
    if any(d.code in UNREADABLE_CODES for d in diags):
        return EXIT_INPUT
    if any(d.is_error for d in diags):
        return EXIT_FINDINGS
    return EXIT_OK


# ---------------------------------------------------------------- fmt

@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--check", "check_only", is_flag=True, help="change nothing; exit 1 and list the files that would change")
@click.option("--diff", "show_diff", is_flag=True, help="change nothing; print a unified diff; exit 1 if any")
def fmt(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Format framework files in place (`-` formats stdin to stdout)."""
    if "-" in paths:
        if len(paths) > 1:
            raise click.UsageError("`-` (stdin) cannot be combined with other paths")
        sys.exit(_fmt_stdin(check_only, show_diff))

    from kpidsl.semantic.resolve import expand_paths

    files, missing = expand_paths(list(paths))
    problems = _path_problems(paths, files, missing)
    for d in problems:
        _echo_diag(d)
    changed: list[str] = []
    unformattable = 0
    for path in files:
        outcome = _fmt_file(path, write=not (check_only or show_diff), show_diff=show_diff)
        if outcome is None:
            unformattable += 1
        elif outcome:
            changed.append(path)
            if check_only:
                click.echo(printable(f"would reformat {path}"), err=True)
            elif not show_diff:
                click.echo(printable(f"reformatted {path}"), err=True)
    verb = "would be reformatted" if (check_only or show_diff) else "reformatted"
    summary = f"{_plural(len(changed), 'file')} {verb}, {len(files) - len(changed) - unformattable} unchanged"
    if unformattable:
        summary += f", {unformattable} could not be formatted (errors above)"
    click.echo(summary, err=True)
    if problems or unformattable:
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_FINDINGS if changed and (check_only or show_diff) else EXIT_OK)


def _fmt_file(path: str, write: bool, show_diff: bool) -> bool | None:
    """Format one file: True if it changes, False if it is already formatted, None if it cannot be formatted."""
    from kpidsl.diagnostics import Diagnostic
    from kpidsl.semantic.resolve import read_bytes
    from kpidsl.source import unknown_span

    data, problem = read_bytes(path)
    if problem is not None or data is None:
        if problem is not None:
            _echo_diag(problem)
        return None
    text = _format_bytes(path, data)
    if text is None:
        return None
    original, formatted = text
    if formatted == original:
        return False
    if show_diff:
        click.echo(_unified_diff(path, original, formatted), nl=False)
    if write:
        try:
            _write_atomically(path, formatted)
        except OSError as err:
            _echo_diag(Diagnostic("KPI010", f"cannot write the file: {err.strerror or err}", unknown_span(path),
                                  help="check the folder's permissions; the file was left as it was"))
            return None
    return True


def _fmt_stdin(check_only: bool, show_diff: bool) -> int:
    from kpidsl.syntax.parser import MAX_FILE_BYTES

    stdin = getattr(sys.stdin, "buffer", sys.stdin)
    data = stdin.read(MAX_FILE_BYTES + 1)
    text = _format_bytes("<stdin>", data)
    if text is None:
        return EXIT_INPUT
    original, formatted = text
    if show_diff:
        click.echo(_unified_diff("<stdin>", original, formatted), nl=False)
    elif not check_only:
        click.echo(formatted, nl=False)
    if original != formatted and (check_only or show_diff):
        if check_only:
            click.echo("would reformat <stdin>", err=True)
        return EXIT_FINDINGS
    return EXIT_OK


def _format_bytes(path: str, data: bytes) -> tuple[str, str] | None:
    """(original text, formatted text), or None after printing why the file cannot be formatted."""
    from kpidsl.fmt import format_text
    from kpidsl.semantic.resolve import not_a_framework
    from kpidsl.syntax.parser import decode

    source, problem = decode(path, data)
    if problem is not None:
        _echo_diag(problem)
        return None
    foreign = not_a_framework(path, source.text)
    if foreign is not None:  # its syntax errors would quote a file that may hold anything
        _echo_diag(foreign)
        return None
    formatted, diags = format_text(path, source.text)
    for d in diags:
        _echo_diag(d)
    if formatted is None:
        if not any(d.is_error for d in diags):
            click.echo(printable(f"{path}: cannot be formatted"), err=True)
        return None
    return source.text, formatted


def _unified_diff(path: str, before: str, after: str) -> str:
    import difflib

    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    # A last line without a newline would glue onto the next hunk header.
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _write_atomically(path: str, text: str) -> None:
    """Temp file in the same folder, then rename over: a crash never leaves half a file."""
    import tempfile

    path = os.path.realpath(path)  # through a symlink to the file, leaving the link a link
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except OSError:
            pass  # keeping the mode is a courtesy; the content is what matters
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _echo_diag(diag: Diagnostic) -> None:
    from kpidsl.diagnostics import render_human

    use_color = _want_color(None, sys.stderr)
    click.echo(render_human(diag, color=use_color), err=True, color=use_color)


# ---------------------------------------------------------------- test

@main.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--color/--no-color", default=None,
              help="colour the output (default: only when stdout is a terminal and NO_COLOR is unset)")
def test_command(paths: tuple[str, ...], color: bool | None) -> None:
    """Run the `test` blocks of framework files, and of every *.kpi file below the folders given."""
    from kpidsl.diagnostics import render_human, sorted_diagnostics
    from kpidsl.testing import run_paths

    use_color = _want_color(color)
    run = run_paths(list(paths))
    for d in sorted_diagnostics(run.diagnostics):
        click.echo(render_human(d, color=use_color), color=use_color)
    for outcome in run.outcomes:
        span = outcome.test.span
        word = "ok  " if outcome.passed else "FAIL"
        mark = click.style(word, fg="green" if outcome.passed else "red", bold=True) if use_color else word
        click.echo(f"{mark} {printable(f'{span.file}:{span.line}: {outcome.test.label}')}", color=use_color)
        for d in outcome.failures:
            click.echo(render_human(d, color=use_color), color=use_color)
    click.echo(run.summary())
    sys.exit(run.exit_code)


# ---------------------------------------------------------------- run

def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    from kpidsl.output.tables import FORMATS

    chosen = tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"{unknown[0] if unknown else value!r} is not a format; "
                                 f"give one or more of {', '.join(FORMATS)}, separated by commas")
    return chosen


@main.command()
@click.argument("framework", type=click.Path())
@click.option("--data", "data", required=True, type=click.Path(),
              help="the period's data: a folder with one file per input, or a DuckDB database")
@click.option("--period", required=True, help="the period to score: 2025-Q3, 2025-09 or 2025")
@click.option("--out", "out", required=True, type=click.Path(),
              help="the folder to write the results to (replaced as a whole when the run succeeds)")
@click.option("--format", "formats", default="csv,parquet", show_default=True, callback=_formats,
              help="table formats, comma-separated: csv, parquet, json, xlsx")
@click.option("--reject-invalid", is_flag=True,
              help="leave rows with problems out (listed in rejects.csv) instead of stopping")
@click.option("--allow-empty", "allow_empty", multiple=True, metavar="INPUT",
              help="let this input (read by period) have no row in the period; repeat or separate with commas")
@click.option("--what-if", "what_if", is_flag=True,
              help="score a period before the framework's effective date anyway (marked as a what-if run)")
@click.option("--raw-csv", is_flag=True,
              help="write CSV cells exactly as they are, without a ' before cells a spreadsheet reads as formulas")
@click.option("--quiet", "-q", is_flag=True, help="print nothing when the run succeeds")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="the language of the report, the labels and the summary (default: the framework's `language`)")
@click.option("--long", "long_tables", is_flag=True,
              help="also write the long tables: one row per item (items) and per measure (measures)")
@click.option("--bom/--no-bom", default=True, show_default=True,
              help="start CSV files with a UTF-8 byte order mark, which Excel needs to read Vietnamese text")
def run(framework: str, data: str, period: str, out: str, formats: tuple[str, ...], reject_invalid: bool,
        allow_empty: tuple[str, ...], what_if: bool, raw_csv: bool, quiet: bool, lang: str | None,
        long_tables: bool, bom: bool) -> None:
    """Score a period's data with a framework and write the results, a report and a manifest."""
    from kpidsl.pipeline import RUN_DATA, RUN_FRAMEWORK, RUN_INPUT, RUN_INTERRUPTED, OutputOptions, run_framework

    def stage(name: str) -> None:
        click.echo(printable(f"kpidsl: {name}…"), err=True)

    def notice(text: str) -> None:  # shown even with --quiet: an earlier run was interrupted
        click.echo(printable(f"kpidsl: {text}"), err=True)

    show = not quiet and _stderr_is_terminal()  # stage lines are for a person watching, never for a log
    report = run_framework(framework, data, period, out, formats, reject_invalid, stage if show else None,
                           what_if=what_if,
                           allow_empty=[n.strip() for v in allow_empty for n in v.split(",") if n.strip()],
                           options=OutputOptions(lang=lang, long=long_tables, bom=bom, raw_csv=raw_csv),
                           notice=notice)
    for d in report.diagnostics:
        if d.is_error or not quiet:
            _echo_diag(d)
    if report.outcome == RUN_INTERRUPTED:
        click.echo(printable(f"kpidsl: {report.message}"), err=True)
        sys.exit(report.exit_code)
    if report.outcome == RUN_FRAMEWORK:
        if report.message:
            click.echo(printable(f"kpidsl: {report.message}"), err=True)
        else:
            click.echo(f"kpidsl: {_summary(report.diagnostics, 1)}; the framework cannot be run", err=True)
        sys.exit(EXIT_FINDINGS)
    if report.outcome == RUN_INPUT:
        if report.message:
            click.echo(printable(f"kpidsl: {report.message}"), err=True)
        sys.exit(EXIT_INPUT)
    if report.outcome == RUN_DATA:
        click.echo(printable(report.problems, keep_newlines=True), err=True, nl=False)
        click.echo("kpidsl: the data has problems; nothing was written"
                   + ("" if reject_invalid else " (--reject-invalid leaves bad rows out)"), err=True)
        sys.exit(EXIT_INPUT)
    if not quiet:
        click.echo(printable(_run_summary(report, report.lang)))
    sys.exit(EXIT_OK)


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _run_summary(report: Any, t: Any) -> str:
    """One line: what was scored and where it went, in the outputs' language."""
    manifest = report.manifest
    scored: dict[str, int] = {}
    errors = 0
    for row in manifest.results:
        scored[row.entity] = scored.get(row.entity, 0) + row.count
        errors += row.count if row.status == "error" else 0
    people = t.n_("{count} person", "{count} people", scored.get("people", 0))
    units = t.n_("{count} unit", "{count} units", scored.get("units", 0))
    rejected = sum(r.rejected for r in manifest.data.rows)
    text = t._("{period}: {people} and {units}", period=manifest.period.label, people=people, units=units)
    if errors:
        text += ", " + t.n_("{count} result with status error", "{count} results with status error", errors)
    if manifest.data.reject_invalid:
        text += ", " + t.n_("{count} row rejected", "{count} rows rejected", rejected)
    files = t.n_("{count} file", "{count} files", len(manifest.outputs) + 1)
    return text + "; " + t._("wrote {files} to {folder}", files=files, folder=report.out_dir)


# ---------------------------------------------------------------- explain

@main.command()
@click.argument("folder", type=click.Path())
@click.option("--id", "entity_id", required=True, help="the id of the person or unit")
@click.option("--score", "score", default=None, help="only the result of this score (or roll-up)")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="a readable tree, or one JSON document (schema in docs/cli.md)")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="the language of the explanation (default: the framework's `language`)")
def explain(folder: str, entity_id: str, score: str | None, output_format: str, lang: str | None) -> None:
    """Explain a result of an earlier run from its output folder, line by line."""
    from kpidsl.i18n import lang as language
    from kpidsl.output.explain import ExplainError, render_text
    from kpidsl.output.explain import explain as explain_result

    def notice(text: str) -> None:
        click.echo(printable(f"kpidsl: {text}"), err=True)

    try:
        answer = explain_result(folder, entity_id, score, language(lang) if lang else None, notice=notice)
    except ExplainError as err:
        click.echo(printable(f"kpidsl: {err.message}"), err=True)
        if err.help:
            click.echo(printable(f"  help: {err.help}"), err=True)
        sys.exit(EXIT_INPUT)
    if output_format == "json":
        click.echo(answer.to_json())
    else:
        click.echo(printable(render_text(answer, answer_language(folder, lang)), keep_newlines=True), nl=False)
    sys.exit(EXIT_OK)


def answer_language(folder: str, override: str | None) -> Any:
    """The language of an explanation: asked, else the one the run's framework speaks."""
    from kpidsl.i18n import lang as language
    from kpidsl.output.manifest import read_json
    from kpidsl.output.tables import EVIDENCE_DIR, FRAMEWORK_EVIDENCE

    if override:
        return language(override)
    try:
        code = read_json(os.path.join(folder, EVIDENCE_DIR, FRAMEWORK_EVIDENCE)).get("language")
        return language(code if code in LANGUAGES else None)
    except (OSError, ValueError, AttributeError):
        return language(None)


# ---------------------------------------------------------------- sheets

@main.command()
@click.argument("folder", type=click.Path())
@click.option("--id", "entity_id", default=None, help="only the sheet of this person or unit")
@click.option("--unit", default=None, help="only this unit: its own sheet and one per member, in one file")
@click.option("--to", "target", default=None, type=click.Path(),
              help="the folder to write to (default: FOLDER/sheets)")
@click.option("--format", "formats", default="html,pdf", show_default=True,
              help="html, pdf, or both, comma-separated")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="the language of the sheets (default: the framework's `language`)")
def sheets(folder: str, entity_id: str | None, unit: str | None, target: str | None, formats: str,
           lang: str | None) -> None:
    """Print the appraisal sheets of a run: one page per person and per unit, a unit in one file."""
    from kpidsl.output.sheets import FORMATS, SheetsError, write_sheets

    if entity_id is not None and unit is not None:
        raise click.UsageError("give --id or --unit, not both")
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in formats.split(",") if p.strip()))
    if not chosen or any(f not in FORMATS for f in chosen):
        raise click.BadParameter(f"give html, pdf or html,pdf (not {formats!r})", param_hint="--format")
    _recover_run_folder(folder)
    try:
        written = write_sheets(folder, entity_id, unit, target, chosen, lang)
    except SheetsError as err:
        click.echo(printable(f"kpidsl: {err.message}"), err=True)
        if err.help:
            click.echo(printable(f"  help: {err.help}"), err=True)
        sys.exit(EXIT_INPUT)
    except OSError as err:
        click.echo(f"kpidsl: cannot write the sheets: {err.strerror or err}"
                   + (f" ({err.filename})" if err.filename else ""), err=True)
        sys.exit(EXIT_INPUT)
    for path in written:
        click.echo(path)
    sys.exit(EXIT_OK)


# ---------------------------------------------------------------- template

@main.command()
@click.argument("framework", type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(), help="the folder to write the empty files to")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True,
              help="spreadsheets with drop-downs and checks, or CSV files with an instructions file")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="the language of the instructions (default: the framework's `language`)")
def template(framework: str, out: str, fmt: str, lang: str | None) -> None:
    """Write one empty data file per input the framework reads, headed by the fields' labels."""
    from kpidsl.i18n import language_of
    from kpidsl.output.template import write_templates
    from kpidsl.pipeline import check_file

    program, diags = check_file(framework)
    for d in diags:
        if d.is_error:
            _echo_diag(d)
    if any(d.code in UNREADABLE_CODES for d in diags):
        sys.exit(EXIT_INPUT)
    if program is None or any(d.is_error for d in diags):
        click.echo(f"kpidsl: {_summary(diags, 1)}; no template was written", err=True)
        sys.exit(EXIT_FINDINGS)
    if os.path.exists(out) and not os.path.isdir(out):
        click.echo(f"kpidsl: {out} exists and is not a folder", err=True)
        sys.exit(EXIT_INPUT)
    try:
        written = write_templates(program, out, fmt, language_of(program.root, lang, program.frameworks))
    except OSError as err:
        click.echo(f"kpidsl: cannot write the templates: {err.strerror or err}"
                   + (f" ({err.filename})" if err.filename else ""), err=True)
        sys.exit(EXIT_INPUT)
    for path in written:
        click.echo(path)
    sys.exit(EXIT_OK)


# ---------------------------------------------------------------- diff

def _recover_run_folder(spec: str) -> None:
    """A run folder whose swap a killed run left half done is finished or undone before it is read."""
    from kpidsl.output.folder import FolderBusy, locked_for_reading

    if ":" in spec and not os.path.exists(spec):
        return  # REV:PATH, read from git
    try:
        with locked_for_reading(spec) as notices:
            for text in notices:
                click.echo(printable(f"kpidsl: {text}"), err=True)
    except FolderBusy as err:
        click.echo(printable(f"kpidsl: {err}"), err=True)
        sys.exit(EXIT_INPUT)


@main.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json", "github"]),
              default="text", show_default=True,
              help="for a terminal, a pull-request comment, one JSON document, or GitHub annotations")
@click.option("--include", "include", default="", metavar="LIST",
              help="also compare `labels` (cosmetic changes) and/or `tests`, comma-separated")
@click.option("--only", "only", default="", metavar="CLASSES",
              help="only changes of these classes: points, credit, rating, population, data, governance, cosmetic")
@click.option("--exit-code", "exit_code", is_flag=True, help="exit 1 when there is a semantic change")
@click.option("--color/--no-color", default=None,
              help="colour the text output (default: only when stdout is a terminal and NO_COLOR is unset)")
def diff_command(old: str, new: str, output_format: str, include: str, only: str, exit_code: bool,
                 color: bool | None) -> None:
    """Compare two versions of the rules: what changed, in points, ratings and who is scored.

    OLD and NEW are each a .kpi file, a folder, REV:PATH (read from git at that revision) or a run folder.
    """
    from kpidsl.versions.diff import UnresolvedSide, classes_option, diff, includes_option
    from kpidsl.versions.render import render_github, render_json, render_markdown, render_text
    from kpidsl.versions.sides import SideError

    try:
        included, classes = includes_option(include), classes_option(only)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    for side in (old, new):
        _recover_run_folder(side)
    try:
        result = diff(old, new, included, classes)
    except UnresolvedSide as err:
        for d in err.diagnostics:
            _echo_diag(_relocated(d, err.side.shown))
        click.echo(f"kpidsl: {err}", err=True)
        sys.exit(EXIT_INPUT)
    except SideError as err:
        click.echo(f"kpidsl: {err}", err=True)
        sys.exit(EXIT_INPUT)
    try:
        if output_format == "json":
            click.echo(render_json(result), nl=False)
        elif output_format == "markdown":
            click.echo(render_markdown(result), nl=False)
        elif output_format == "github":
            click.echo(render_github(result), nl=False)
            _step_summary(render_markdown(result))
        else:
            use_color = _want_color(color)
            click.echo(render_text(result, use_color), nl=False, color=use_color)
    finally:
        result.close()
    if result.new_has_errors or (exit_code and result.changed):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)


def _relocated(diag: Diagnostic, shown: Any) -> Diagnostic:
    """The same finding, its file named as the reader knows it (`origin/main:frameworks/x.kpi`)."""
    import dataclasses

    from kpidsl.source import SourceFile

    span = diag.span
    name = shown(span.file)
    if name == span.file:
        return diag
    moved = SourceFile(name, span.source.text).span(span.start, span.end)
    return dataclasses.replace(diag, span=moved)


def _step_summary(markdown: str) -> None:
    """In a GitHub Actions step, the full diff also goes to the step summary (annotations are capped)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(markdown)
    except OSError as err:
        click.echo(f"kpidsl: cannot write the step summary ({err.strerror or err})", err=True)
