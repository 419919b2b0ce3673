"""A run folder checked against its manifest before its evidence is believed: each file whole and unchanged.

The manifest lists every file of the run with its SHA-256. `explain` reads the
evidence only after each evidence file hashes to what the manifest says and no
file was added beside them; a folder edited by hand, damaged, or cut short on a
power cut is named as altered instead of explained. Hashing a million people's
evidence takes a moment, so a verified file is remembered in the cache folder
by its size, times and inode: a later `explain` of the same unchanged file only
looks at it (any write changes its change time, which no user can set).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from kpidsl.data.sources import sha256_of

EVIDENCE_PREFIX = "evidence/"
LISTED = 6  # altered files named in a message


def altered_evidence(folder: str, manifest: Any) -> list[str]:
    """The evidence files that are not as the manifest lists them: `evidence/items.parquet (changed)`."""
    listed = {o.name: o for o in manifest.outputs if o.name.startswith(EVIDENCE_PREFIX)}
    on_disk = set(_files_below(folder, EVIDENCE_PREFIX.rstrip("/")))
    remembered = _remembered(folder)
    seen: dict[str, list] = {}
    problems = []
    for name, entry in sorted(listed.items()):
        path = os.path.join(folder, *name.split("/"))
        try:
            info = os.stat(path)
        except OSError:
            problems.append(f"{name} (missing)")
            continue
        stamp = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
        known = remembered.get(name)
        if known and known[:4] == stamp and known[4] == entry.sha256:
            seen[name] = known
            continue
        if info.st_size != entry.size:
            problems.append(f"{name} (changed)")
            continue
        try:
            digest, _ = sha256_of(path)
        except OSError:
            problems.append(f"{name} (unreadable)")
            continue
        if digest != entry.sha256:
            problems.append(f"{name} (changed)")
            continue
        seen[name] = [*stamp, digest]
    problems.extend(f"{name} (added)" for name in sorted(on_disk - set(listed)))
    if not problems:
        _remember(folder, seen)
    return problems


def describe(problems: list[str]) -> str:
    shown = ", ".join(problems[:LISTED]) + (f" and {len(problems) - LISTED} more" if len(problems) > LISTED else "")
    return shown


def _files_below(folder: str, sub: str) -> list[str]:
    base = os.path.join(folder, sub)
    out = []
    for root, _dirs, files in os.walk(base):
        for name in files:
            out.append(Path(os.path.relpath(os.path.join(root, name), folder)).as_posix())
    return out


def _cache_file(folder: str) -> Path | None:
    from kpidsl.cachedir import cache_dir

    cache = cache_dir()
    if cache is None:
        return None
    key = hashlib.sha256(os.path.realpath(folder).encode("utf-8", "surrogateescape")).hexdigest()
    return cache / "verified" / f"{key}.json"


def _remembered(folder: str) -> dict[str, list]:
    path = _cache_file(folder)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 5}


def _remember(folder: str, seen: dict[str, list]) -> None:
    path = _cache_file(folder)
    if path is None:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(seen, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # remembering only saves time
