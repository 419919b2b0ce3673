"""A side of a diff: the frameworks of a `.kpi` file, a folder, `REV:PATH` in git, or a run folder, resolved.

Each side is a set of root frameworks keyed by framework id (two folders are
matched by id, not by path). A git revision is read from the repository's
object store into a private folder that holds every `.kpi` file of that
revision's tree, so every `use` resolves inside the same revision and nowhere
else; a run folder is read from the copies it kept (`evidence/sources/`),
after checking them against the manifest's hashes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kpidsl.diagnostics import Diagnostic, sorted_diagnostics
from kpidsl.paths import expand_paths
from kpidsl.semantic.resolve import LoadedFile, Loader, Program, resolve
from kpidsl.source import SourceFile
from kpidsl.syntax.parser import MAX_FILE_BYTES

MAX_TREE_FILES = 20_000  # `.kpi` files read from one git revision
GIT_TIMEOUT = 60  # seconds for one git command

# Findings that mean a framework could not be read or put together: the side does not resolve.
UNRESOLVED = frozenset({"KPI001", "KPI002", "KPI003", "KPI004", "KPI005", "KPI006", "KPI007", "KPI008",
                        "KPI009", "KPI010", "KPI011", "KPI012", "KPI013", "KPI014", "KPI015"})


class SideError(Exception):
    """A side cannot be read: the message says why (exit 2)."""


@dataclass
class Framed:
    """One root framework of a side: its program and the findings about it."""

    id: str
    root: str
    program: Program | None
    diagnostics: list[Diagnostic]

    @property
    def resolved(self) -> bool:
        return self.program is not None and not any(d.code in UNRESOLVED for d in self.diagnostics)


@dataclass
class Side:
    spec: str
    kind: str                                   # file | folder | git | run
    frameworks: dict[str, Framed] = field(default_factory=dict)
    shown: Callable[[str], str] = str           # a path read -> how to show it
    problems: list[Diagnostic] = field(default_factory=list)  # roots that did not resolve
    duplicates: list[str] = field(default_factory=list)        # ids declared by several roots
    _folder: str | None = None

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def open_side(spec: str, check: bool) -> Side:
    """Read a side; `check` also runs the checker (for NEW, whose findings the diff reports)."""
    if not spec:
        raise SideError("an empty side: name a .kpi file, a folder, REV:PATH or a run folder")
    if os.path.isdir(spec):
        from kpidsl.output.manifest import is_run_folder

        if is_run_folder(spec):
            return _run_side(spec, check)
        files, _ = expand_paths([spec])
        if not files:
            raise SideError(f"{spec}: this folder holds no .kpi files")
        return _load(Side(spec, "folder"), files, Loader(), check)
    if os.path.exists(spec):
        return _load(Side(spec, "file"), [spec], Loader(), check)
    if "@" in spec and ":" not in spec:
        raise SideError(f"{spec}: no such file or folder (a timeline's @VERSION is not a side yet)")
    if ":" in spec:
        return _git_side(spec, check)
    raise SideError(f"{spec}: no such file or folder, and not REV:PATH")


def _load(side: Side, roots: list[str], loader: Loader, check: bool) -> Side:
    from kpidsl.check import check_program

    for root in roots:
        program, diags = resolve(root, loader)
        framed_id = program.root.id if program is not None else root
        if program is not None and check and not any(d.code in UNRESOLVED for d in diags):
            diags.extend(check_program(program))
        framed = Framed(framed_id, root, program, sorted_diagnostics(diags))
        if not framed.resolved:
            side.problems.extend(d for d in framed.diagnostics if d.code in UNRESOLVED)
            continue
        if framed_id in side.frameworks:
            side.duplicates.append(framed_id)
            continue
        side.frameworks[framed_id] = framed
    return side


# ---------------------------------------------------------------- git revisions

def _git(args: list[str], cwd: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=GIT_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise SideError("git is not installed, so REV:PATH cannot be read") from None
    except subprocess.TimeoutExpired:
        raise SideError(f"git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SideError(message[0] if message else f"git {args[0]} failed")
    return done.stdout


def _git_side(spec: str, check: bool) -> Side:
    rev, _, path = spec.partition(":")
    if not rev or rev.startswith("-"):
        raise SideError(f"{spec}: not REV:PATH (a git revision, then a path in it)")
    cwd = os.getcwd()
    try:
        top = _git(["rev-parse", "--show-toplevel"], cwd).decode("utf-8", "replace").strip()
    except SideError:
        raise SideError(f"{spec}: not in a git repository, so {rev!r} names no revision") from None
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd).decode().strip()
    except SideError:
        raise SideError(f"{spec}: unknown git revision {rev!r}") from None
    inside = _tree_path(path, cwd, top, spec)
    folder = tempfile.mkdtemp(prefix="kpidsl-diff-")
    side = Side(spec, "git", _folder=folder)
    try:
        listed = _materialize(commit, top, folder)
        target = os.path.join(folder, *inside.split("/")) if inside else folder
        if inside and inside not in listed and not any(p.startswith(inside + "/") for p in listed):
            raise SideError(f"{spec}: revision {rev} has no .kpi file at {inside or '.'}")
        files, _ = expand_paths([target])
        if not files:
            raise SideError(f"{spec}: revision {rev} has no .kpi file at {inside or '.'}")
        prefix = folder + os.sep
        side.shown = lambda p: f"{rev}:{Path(os.path.relpath(p, folder)).as_posix()}" \
            if os.path.abspath(p).startswith(prefix) else p
        return _load(side, files, ConfinedLoader(folder, f"revision {rev}"), check)
    except BaseException:
        side.close()
        raise


def _tree_path(path: str, cwd: str, top: str, spec: str) -> str:
    """PATH inside the repository, `/`-separated: from its top, or from here when it starts with ./ or ../."""
    raw = path.replace(os.sep, "/")
    if raw.startswith(("./", "../")) or raw in (".", ".."):
        full = os.path.normpath(os.path.join(cwd, raw))
        rel = os.path.relpath(full, top)
    else:
        rel = os.path.normpath(raw) if raw else "."
    rel = Path(rel).as_posix()
    if rel == ".":
        return ""
    if rel.startswith("../") or rel == ".." or os.path.isabs(rel):
        raise SideError(f"{spec}: {path} is outside the repository")
    return rel.rstrip("/")


def _materialize(commit: str, top: str, folder: str) -> set[str]:
    """Write every `.kpi` file of the commit's tree into `folder`; the paths written."""
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", commit], top)
    wanted: list[tuple[str, str]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, sha = meta.split(b" ")
        name = raw_path.decode("utf-8", "surrogateescape")
        if kind == b"blob" and mode in (b"100644", b"100755") and name.endswith(".kpi"):
            wanted.append((sha.decode(), name))
    if len(wanted) > MAX_TREE_FILES:
        raise SideError(f"the revision holds {len(wanted):,} .kpi files; the limit is {MAX_TREE_FILES:,}")
    if not wanted:
        return set()
    out = _git(["cat-file", "--batch"], top, stdin="".join(f"{sha}\n" for sha, _ in wanted).encode())
    pos = 0
    written = set()
    root = os.path.realpath(folder)
    for _sha, name in wanted:
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split(b" ")[2])
        data = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
        target = os.path.realpath(os.path.join(folder, *name.split("/")))
        if not target.startswith(root + os.sep):
            continue  # git never stores such a path; never write outside the folder if it did
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data[:MAX_FILE_BYTES + 1])  # enough for the reader to say it is too large
        written.add(name)
    return written


class ConfinedLoader(Loader):
    """A Loader that reads nothing outside one folder: a `use` that leaves it is a missing file."""

    def __init__(self, folder: str, what: str) -> None:
        super().__init__()
        self.folder = os.path.realpath(folder)
        self.what = what

    def load(self, path: str) -> LoadedFile:
        real = os.path.realpath(path)
        if real != self.folder and not real.startswith(self.folder + os.sep):
            span = SourceFile(path, "").span(0, 0)
            return LoadedFile(path, SourceFile(path, ""), None, (
                Diagnostic("KPI011", f"used file `{path}` is outside the {self.what}", span,
                           help="a version is read on its own: every file it uses must be part of it"),))
        return super().load(path)


# ---------------------------------------------------------------- run folders

def _run_side(folder: str, check: bool) -> Side:
    from kpidsl.output.manifest import read_manifest
    from kpidsl.output.sources import SOURCES_DIR

    try:
        manifest = read_manifest(folder)
    except ValueError as err:
        raise SideError(str(err)) from None
    framework = manifest.framework
    root = next((f for f in framework.files if f.path == framework.root), None)
    if root is None or root.source is None:
        raise SideError(f"{folder}: this run did not keep its framework files ({SOURCES_DIR}/); "
                        "run it again with this kpidsl, or diff the framework files themselves")
    sources = os.path.join(folder, *SOURCES_DIR.split("/"))
    inside = os.path.realpath(sources) + os.sep
    for f in framework.files:
        if f.source is None:
            continue
        path = os.path.join(folder, *f.source.split("/"))
        if not os.path.realpath(path).startswith(inside):
            raise SideError(f"{folder}: the manifest names a framework file outside {SOURCES_DIR}/: {f.source}")
        try:
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError as err:
            raise SideError(f"{path}: cannot be read ({err.strerror or err})") from None
        if digest != f.sha256:
            raise SideError(f"{path}: changed since the run (its hash differs from the manifest's)")
    root_path = os.path.join(folder, *root.source.split("/"))
    return _load(Side(folder, "run"), [root_path], ConfinedLoader(sources, "run's evidence/sources/"), check)
