"""Which framework files a list of command-line paths names, and why a path cannot be read, in words."""

from __future__ import annotations

import errno
import os
import stat
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


def not_a_file(path: str) -> str | None:
    """Why `path` is not a regular file kpidsl can read, in words (None when it is one)."""
    try:
        info = os.stat(path)
    except OSError as err:
        return stat_failure(path, err)
    return None if stat.S_ISREG(info.st_mode) else f"it is {kind_of(info.st_mode)}, not a file"


def stat_failure(path: str, err: OSError) -> str:
    """Why `os.stat(path)` failed: a loop of links, a link to nothing, no such path, or the system's words."""
    if err.errno == errno.ELOOP:
        return "it is a loop of symbolic links"
    if err.errno == errno.ENOENT and os.path.islink(path):
        return f"it is a symbolic link to {os.readlink(path)}, which does not exist"
    if err.errno == errno.ENOENT:
        return "no such folder or file"
    return err.strerror or str(err)


def kind_of(mode: int) -> str:
    """What a path that is not a regular file is: a folder, a named pipe, a device, a socket."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
