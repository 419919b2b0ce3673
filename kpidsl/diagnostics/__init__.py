"""Diagnostics: the one shape of every user-facing finding, and its renderings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kpidsl.diagnostics.codes import CODES, ERROR, WARNING, severity_of
from kpidsl.source import Span
from kpidsl.text import printable

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Diagnostic:
    """A finding: stable code, severity, message, where, and how to fix it."""

    code: str
    message: str
    span: Span
    help: str | None = None
    severity: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")
        if not self.severity:
            object.__setattr__(self, "severity", severity_of(self.code))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.start, self.code, self.message)

    def as_warning_error(self) -> Diagnostic:
        """The same finding, failing the run (for --strict)."""
        return Diagnostic(self.code, self.message, self.span, self.help, ERROR, self.notes)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A help line naming the closest candidate, if any is close enough."""
    import difflib  # only for a suggestion: kept off the import path of every command

    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by place, each finding once (a file checked as a root and as a dependency reports once)."""
    unique: dict[tuple, Diagnostic] = {}
    for d in diags:
        unique.setdefault((d.span.file, d.span.start, d.span.end, d.code, d.message, d.severity), d)
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render_human(diag: Diagnostic, color: bool = False) -> str:
    """file:line:col: severity[CODE]: message, the source line, a caret, help."""
    import click  # only for styling; already loaded by the CLI

    def style(text: str, **kw) -> str:
        return click.style(text, **kw) if color else text

    sev_color = "red" if diag.is_error else "yellow"
    span = diag.span
    head = (
        f"{style(printable(f'{span.file}:{span.line}:{span.column}'), bold=True)}: "
        f"{style(f'{diag.severity}[{diag.code}]', fg=sev_color, bold=True)}: {printable(diag.message)}"
    )
    lines = [head]
    text = span.source.line_text(span.line)
    if text or span.source.text:
        shown = printable(text)
        gutter = f"{span.line} | "
        width = max(1, (span.end_column - span.column) if span.end_line == span.line else len(text) - span.column + 1)
        # On a very long line show a window around the caret, not the line's start.
        skip = span.column - 1 - 40 if span.column > 161 else 0
        prefix = "..." if skip else ""
        caret = " " * (len(prefix) + span.column - 1 - skip) + "^" * max(1, min(width, 80))
        lines.append(style(gutter, fg="blue") + prefix + shown[skip:skip + 200])
        lines.append(" " * len(gutter) + style(caret, fg=sev_color, bold=True))
    for note in diag.notes:
        lines.append(f"  note: {printable(note)}")
    if diag.help:
        lines.append(f"  {style('help', fg='cyan', bold=True)}: {printable(diag.help)}")
    return "\n".join(lines)


def to_json_obj(diag: Diagnostic) -> dict:
    span = diag.span
    return {
        "code": diag.code,
        "severity": diag.severity,
        "message": diag.message,
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "source_line": span.source.line_text(span.line),
        "help": diag.help,
        "notes": list(diag.notes),
    }


def render_json(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    errors = sum(d.is_error for d in diags)
    doc = {
        "version": JSON_SCHEMA_VERSION,
        "files": list(files),
        "summary": {"errors": errors, "warnings": len(diags) - errors},
        "diagnostics": [to_json_obj(d) for d in diags],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diag: Diagnostic) -> str:
    """A GitHub Actions workflow command: ::error file=..,line=..,col=..::message."""
    kind = "error" if diag.is_error else "warning"
    span = diag.span
    message = f"{diag.message}" + (f" (help: {diag.help})" if diag.help else "")
    props = (
        f"file={_gh_escape(span.file, True)},line={span.line},col={span.column},"
        f"endLine={span.end_line},endColumn={span.end_column},title={_gh_escape(diag.code, True)}"
    )
    return f"::{kind} {props}::{_gh_escape(message)}"


__all__ = [
    "Diagnostic", "ERROR", "WARNING", "did_you_mean", "render_human", "render_json",
    "render_github", "sorted_diagnostics", "to_json_obj",
]
