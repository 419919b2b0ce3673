"""The framework files a run read, kept in the run folder (`evidence/sources/`) so the run stands on its own.

Each file is copied byte for byte under the folder all of them share, so the
`use` paths between them still resolve inside `evidence/sources/`: a unit frame
at `units/administration.kpi` that uses `../central/central.kpi` finds it at
`evidence/sources/central/central.kpi`. A run can then be diffed, explained
and published later without the repository it came from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SOURCES_DIR = "evidence/sources"


@dataclass(frozen=True)
class SourceCopy:
    """One framework file as read: where it was, its name under `evidence/sources/`, its bytes and hash."""

    path: str       # as the program names it
    name: str       # relative to evidence/sources/, `/`-separated
    data: bytes
    sha256: str

    @property
    def output_name(self) -> str:
        return f"{SOURCES_DIR}/{self.name}"


def collect_sources(files: Sequence[str]) -> list[SourceCopy]:
    """Read every file once; names are relative to the deepest folder holding all of them."""
    absolute = [os.path.abspath(f) for f in files]
    if not absolute:
        return []
    base = os.path.commonpath([os.path.dirname(a) for a in absolute])
    out = []
    seen: set[str] = set()
    for original, full in zip(files, absolute):
        name = Path(os.path.relpath(full, base)).as_posix()
        if name in seen:
            continue
        seen.add(name)
        with open(full, "rb") as fh:
            data = fh.read()
        out.append(SourceCopy(original, name, data, hashlib.sha256(data).hexdigest()))
    return out


def write_sources(folder: str, copies: Sequence[SourceCopy]) -> list[str]:
    """Write the copies under `folder/evidence/sources/`; the names written, relative to `folder`."""
    written = []
    for copy in copies:
        target = os.path.join(folder, *copy.output_name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(copy.data)
        written.append(copy.output_name)
    return written
