"""Check results remembered per framework file, keyed by every file it reads and by the checker itself.

A hit needs no parser at all: the files are hashed, the stored findings are
rebuilt against their current text, and `kpidsl check` answers in
milliseconds. Any change to a file the framework uses, to kpidsl's own code or
to the grammar misses. Entries are JSON (never pickle), in the per-user cache
folder (see parse.cache_dir), and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile

FORMAT = 1
# Findings about the file system can change without any file changing: never remembered. Nor is KPI017,
# whose file must never be shown (a remembered finding is rebuilt against the file's text).
_UNCACHEABLE = {"KPI007", "KPI010", "KPI011", "KPI012", "KPI015", "KPI016", "KPI017"}


@lru_cache(maxsize=1)
def tool_fingerprint() -> str:
    """kpidsl's version and the size and time of every module and the grammar."""
    import kpidsl

    package = Path(kpidsl.__file__).resolve().parent
    digest = hashlib.sha256(f"{FORMAT}:{kpidsl.__version__}".encode())
    roots = [package, package.parent / "grammar"]
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".lark") and path.is_file():
                info = path.stat()
                digest.update(f"{path.relative_to(root)}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()


def _framework_root(root: str) -> str:
    from kpidsl.semantic.resolve import framework_root

    return framework_root(root)


def _entry_path(folder: Path, root: str) -> Path:
    key = hashlib.sha256(f"{os.getcwd()}\0{root}".encode()).hexdigest()
    return folder / "checks" / f"{key}.json"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def lookup(folder: Path, root: str) -> list[Diagnostic] | None:
    """The remembered findings for `root`, if nothing they depend on has changed."""
    try:
        entry = json.loads(_entry_path(folder, root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("tool") != tool_fingerprint() or entry.get("root") != root:
        return None
    if entry.get("framework_root") != _framework_root(root):
        return None  # a `.kpidsl-root` or `.git` added or removed changes what `use` may reach
    texts: dict[str, SourceFile] = {}
    for path, digest in entry.get("files", {}).items():
        data = _read(path)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            return None
        texts[path] = SourceFile(path, data.decode("utf-8", "replace").removeprefix("\ufeff"))
    try:
        return [_diagnostic(d, texts) for d in entry["diagnostics"]]
    except (KeyError, TypeError, ValueError):
        return None


def _diagnostic(d: dict, texts: dict[str, SourceFile]) -> Diagnostic:
    source = texts.get(d["file"]) or SourceFile(d["file"], "")
    return Diagnostic(d["code"], d["message"], source.span(d["start"], d["end"]), help=d["help"],
                      severity=d["severity"], notes=tuple(d["notes"]))


def store(folder: Path, root: str, files: list[str], diagnostics: list[Diagnostic]) -> None:
    """Remember the findings of `root`; `files` are every file its check read."""
    if any(d.code in _UNCACHEABLE for d in diagnostics):
        return
    hashes = {}
    for path in dict.fromkeys(files):
        data = _read(path)
        if data is None:
            return
        hashes[path] = hashlib.sha256(data).hexdigest()
    if any(d.span.file not in hashes for d in diagnostics):
        return
    entry = {
        "format": FORMAT, "tool": tool_fingerprint(), "root": root, "framework_root": _framework_root(root),
        "files": hashes,
        "diagnostics": [{"code": d.code, "severity": d.severity, "message": d.message, "file": d.span.file,
                         "start": d.span.start, "end": d.span.end, "help": d.help, "notes": list(d.notes)}
                        for d in diagnostics],
    }
    target = _entry_path(folder, root)
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, ensure_ascii=False)
        os.replace(tmp, target)
    except OSError:
        pass  # a cache that cannot be written only costs speed
