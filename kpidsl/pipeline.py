"""The one place the stages are chained: paths -> load -> parse -> lower -> resolve -> check."""

from __future__ import annotations

from dataclasses import dataclass

from kpidsl.diagnostics import Diagnostic, sorted_diagnostics
from kpidsl.resolve import Loader, Program, expand_paths, resolve


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

    program, diags = resolve(path, loader or Loader())
    if program is not None:
        diags.extend(check_program(program))
    return program, diags


def check_paths(paths: list[str], strict: bool = False) -> CheckReport:
    """Check every framework file named or found below the folders named."""
    files, missing = expand_paths(paths)
    loader = Loader()
    found: list[Diagnostic] = []
    for path in files:
        found.extend(check_file(path, loader)[1])
    if strict:
        found = [d if d.is_error else d.as_warning_error() for d in found]
    return CheckReport(tuple(files), tuple(missing), tuple(sorted_diagnostics(found)))
