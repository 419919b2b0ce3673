"""The one place the stages are chained: paths -> load -> parse -> lower -> resolve -> check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpidsl.diagnostics import Diagnostic, sorted_diagnostics

if TYPE_CHECKING:
    from kpidsl.resolve import Loader, Program


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
    from kpidsl.resolve import Loader, resolve

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
            from kpidsl.resolve import Loader

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
