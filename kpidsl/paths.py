"""Which framework files a list of command-line paths names."""

from __future__ import annotations

import os
from pathlib import Path


def expand_paths(paths: list[str]) -> tuple[list[str], list[str]]:
    """Files named and `*.kpi` files below folders named, sorted; and the paths that do not exist."""
    files: list[str] = []
    missing: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(sorted(str(f) for f in Path(p).rglob("*.kpi") if f.is_file()))
        elif os.path.exists(p):
            files.append(p)
        else:
            missing.append(p)
    seen: set[str] = set()
    unique = []
    for f in files:
        # `a.kpi` and `/here/a.kpi` are one file, checked once.
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing
