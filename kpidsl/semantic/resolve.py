"""Resolve: load files and their `use`s, apply `extends`, and merge one framework's declarations."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.paths import expand_paths, kind_of, not_a_file  # noqa: F401 - expand_paths re-exported
from kpidsl.source import SourceFile, Span, unknown_span
from kpidsl.syntax import nodes as n
from kpidsl.syntax.inline import parse_and_lower
from kpidsl.syntax.parser import MAX_FILE_BYTES, decode

MAX_FILES = 2000
# `use` is followed depth-first; this bounds the recursion (and no real frame set is this deep).
MAX_USE_DEPTH = 64


@dataclass(frozen=True)
class LoadedFile:
    path: str
    source: SourceFile
    framework: n.Framework | None
    diagnostics: tuple[Diagnostic, ...]


def read_file(path: str) -> LoadedFile:
    """Read, decode, parse and lower one file; every failure is a diagnostic."""
    data, problem = read_bytes(path)
    if problem is not None or data is None:
        return LoadedFile(path, SourceFile(path, ""), None, (problem,) if problem else ())
    return load_text(path, data)


def read_bytes(path: str) -> tuple[bytes | None, Diagnostic | None]:
    """A framework file's bytes, or the diagnostic saying why they cannot be had."""
    span = SourceFile(path, "").span(0, 0)
    try:
        info = os.stat(path)
        # A pipe or a device could block forever or never end: only regular files are read.
        if not stat.S_ISREG(info.st_mode):
            what = kind_of(info.st_mode)
            if what != "a folder":
                what += ", not a regular file"
            return None, Diagnostic("KPI010", f"cannot read the file: it is {what}", span,
                                    help="name a framework file (`.kpi`)")
        if info.st_size > MAX_FILE_BYTES:
            return None, Diagnostic(
                "KPI007", f"file is {info.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,}", span,
                help="split the framework into several files joined with `use`")
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1), None
    except OSError as err:
        return None, Diagnostic("KPI010", f"cannot read the file: {err.strerror or err}", span,
                                help="check the path and its permissions")


def load_text(path: str, data: bytes) -> LoadedFile:
    source, problem = decode(path, data)
    if problem:
        return LoadedFile(path, source, None, (problem,))
    framework, diags = parse_and_lower(source)
    if framework is None:
        foreign = not_a_framework(path, source.text)
        if foreign is not None:
            # Not a framework at all (a secret, a data file): nothing of it is ever shown.
            return LoadedFile(path, SourceFile(path, ""), None, (foreign,))
    return LoadedFile(path, source, framework, diags)


_FRAMEWORK_START = re.compile(r"(?:\s|#[^\n]*)*framework(?![\w])")
_BLANK = re.compile(r"(?:\s|#[^\n]*)*")


def not_a_framework(path: str, text: str) -> Diagnostic | None:
    """KPI017 for a file that does not begin with `framework` (comments and blank lines aside); its
    syntax errors would quote it, and a file that is not a framework may hold anything."""
    if _FRAMEWORK_START.match(text) or _BLANK.fullmatch(text):
        return None
    return Diagnostic("KPI017", "not a framework file: it does not begin with `framework`", unknown_span(path),
                      help="a framework file begins with `framework ID \"Title\"`; nothing of this file is shown")


class Loader:
    """Reads each file once, however many frameworks use it."""

    def __init__(self, overrides: dict[str, bytes] | None = None, root: str | None = None) -> None:
        self.files: dict[str, LoadedFile] = {}
        self.overrides = overrides or {}
        self.visited: list[str] = []  # every path asked for, in order (what a check depends on)
        # The framework root `use` may not leave; None: found from each root file (framework_root).
        self.root = root

    def load(self, path: str) -> LoadedFile:
        key = os.path.normpath(path)
        self.visited.append(path)
        if key not in self.files:
            if key in self.overrides:
                self.files[key] = load_text(path, self.overrides[key])
            else:
                self.files[key] = read_file(path)
        return self.files[key]


# ---------------------------------------------------------------- what `use` may reach

ROOT_MARKERS = (".kpidsl-root", ".git")
"""A folder holding one of these is a framework root: `use` reaches no file outside it."""


def framework_root(path: str) -> str:
    """The framework root of a root framework file: the nearest folder above it (its own included) that
    holds `.kpidsl-root` or `.git`, or is the `evidence/sources/` a run kept; without one, the current
    folder when the file is below it, else the file's own folder."""
    folder = os.path.dirname(os.path.abspath(path))
    probe = folder
    while True:
        if any(os.path.lexists(os.path.join(probe, marker)) for marker in ROOT_MARKERS) or _kept_sources(probe):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    here = os.getcwd()
    return here if _inside(folder, here) else folder


def _kept_sources(folder: str) -> bool:
    """`evidence/sources/` of a run folder: the framework files a run kept, a root of their own."""
    evidence = os.path.dirname(folder)
    return (os.path.basename(folder) == "sources" and os.path.basename(evidence) == "evidence"
            and os.path.isfile(os.path.join(os.path.dirname(evidence), "manifest.json")))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _reach_problem(decl: n.Use, base: str, root: str) -> Diagnostic | None:
    """KPI016 when `use` names a file it may not read: an absolute path, a file that is not `.kpi`, or one
    outside the framework root (by `..` or through a symbolic link). The file is never opened."""
    text = decl.path
    relative = os.path.relpath(root)
    shown = f"`{root if relative.startswith('..') else relative}`"
    help_root = (f"`use` reaches files inside the framework root {shown} only (the nearest folder holding "
                 "`.kpidsl-root` or `.git`); move the file inside it, or mark a folder that holds both with an "
                 "empty `.kpidsl-root` file")
    if os.path.isabs(text) or text.startswith(("~", "\\")) or re.match(r"[A-Za-z]:", text):
        return Diagnostic("KPI016", f"`use` names an absolute path, `{text}`", decl.span,
                          help="name the file relative to this one, inside the framework root " + shown)
    if not text.lower().endswith(".kpi"):
        return Diagnostic("KPI016", f"`{text}` is not a `.kpi` file; `use` reads framework files only", decl.span,
                          help="name a framework file, whose name ends in `.kpi`")
    target = os.path.abspath(os.path.join(base, text))
    if not _inside(os.path.normpath(target), root):
        return Diagnostic("KPI016", f"`{text}` is outside the framework root {shown}", decl.span, help=help_root)
    if os.path.lexists(target) and not _inside(os.path.realpath(target), os.path.realpath(root)):
        return Diagnostic("KPI016", f"`{text}` leads outside the framework root {shown} through a symbolic link",
                          decl.span, help=help_root)
    return None


# ---------------------------------------------------------------- the merged program

@dataclass(frozen=True)
class Replacement:
    """An inherited item that the extending framework redefines (the locks pass judges it)."""

    old: n.Node
    new: n.Node
    old_locked: bool
    at: Span
    # The locked node that forbids the change: `old` itself or a group/score around it.
    locked_by: n.Node | None = None
    # What changed: "redefine" (the item itself), "add" (an item put into `old`), "drop"
    # (`replace` on `old`), "share", "total" or "missing" (an option of `old`).
    change: str = "redefine"


@dataclass
class Program:
    """One framework with everything it uses and extends, merged into single namespaces."""

    root: n.Framework
    root_file: str
    inputs: dict[str, n.Input] = field(default_factory=dict)
    measures: dict[str, n.Measure] = field(default_factory=dict)
    scales: dict[str, n.Scale] = field(default_factory=dict)
    scores: dict[str, n.Score] = field(default_factory=dict)
    ratings: dict[str, n.Rating] = field(default_factory=dict)
    rollups: dict[str, n.Rollup] = field(default_factory=dict)
    units: n.UnitsEntity | None = None
    people: n.PeopleEntity | None = None
    requires: list[n.Require] = field(default_factory=list)
    tests: list[n.Test] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    frameworks: dict[str, n.Framework] = field(default_factory=dict)
    # Ids of the frameworks the root extends, directly or through others (their `require`s bind it).
    extended: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)

    @property
    def rounding(self) -> n.Rounding | None:
        return self.root.rounding

    def entity_input(self, entity: str) -> n.Input | None:
        decl = self.people if entity == "people" else self.units
        return self.inputs.get(decl.input) if decl else None


_NAMESPACES = {
    n.Input: ("inputs", "input"), n.Measure: ("measures", "measure"), n.Scale: ("scales", "scale"),
    n.Score: ("scores", "score"), n.Rating: ("ratings", "rating"), n.Rollup: ("rollups", "rollup"),
}


def resolve(root_path: str, loader: Loader) -> tuple[Program | None, list[Diagnostic]]:
    """Build the Program of one root file; diagnostics for missing, cyclic or bad uses."""
    diags: list[Diagnostic] = []
    root = loader.load(root_path)
    diags.extend(root.diagnostics)
    if root.framework is None:
        return None, diags
    program = Program(root=root.framework, root_file=root.path)
    order: list[LoadedFile] = []
    reach = os.path.abspath(loader.root) if loader.root else framework_root(root.path)
    _collect_uses(root, loader, [os.path.normpath(root.path)], set(), order, diags, reach)
    # `order` lists dependencies before dependants, the root last.
    ids: dict[str, LoadedFile] = {}
    for lf in order:
        if lf.framework is None:
            continue
        program.files.append(lf.path)
        other = ids.get(lf.framework.id)
        if other is not None and other.path != lf.path:
            diags.append(Diagnostic("KPI014", f"framework id `{lf.framework.id}` is also declared in {other.path}",
                                    lf.framework.span, help="give each framework file its own id"))
        ids[lf.framework.id] = lf
        program.frameworks[lf.framework.id] = lf.framework
    extended = _extended_ids(root.framework, program, diags)
    program.extended = set(extended)
    for lf in order:
        fw = lf.framework
        if fw is None:
            continue
        inherited = fw is root.framework
        _merge(program, fw, extends=extended if inherited else _extended_ids(fw, program, []), diags=diags)
    program.tests = [d for d in root.framework.decls if isinstance(d, n.Test)]
    return program, diags


def _collect_uses(lf: LoadedFile, loader: Loader, stack: list[str], seen: set[str], order: list[LoadedFile],
                  diags: list[Diagnostic], root: str) -> None:
    """Depth-first over `use`, reporting a missing file, a cycle or a file out of reach where it is written."""
    key = os.path.normpath(lf.path)
    if key in seen:
        return
    seen.add(key)
    if lf.framework is not None:
        base = Path(lf.path).parent
        for decl in lf.framework.decls:
            if not isinstance(decl, n.Use):
                continue
            reach = _reach_problem(decl, str(base), root)
            if reach is not None:
                diags.append(reach)
                continue
            target = os.path.normpath(base / decl.path)
            if target in stack:
                chain = " -> ".join(stack[stack.index(target):] + [target])
                if target == key:
                    diags.append(Diagnostic("KPI012", f"`{decl.path}` uses itself", decl.span,
                                            help="remove this `use`; a file may not include itself"))
                else:
                    diags.append(Diagnostic("KPI012", f"`{decl.path}` is part of a `use` cycle: {chain}", decl.span,
                                            help="remove one `use` of the cycle; files may not include each "
                                                 "other in a circle"))
                continue
            if len(seen) >= MAX_FILES:
                diags.append(Diagnostic("KPI015", f"more than {MAX_FILES} files are used", decl.span,
                                        help="a framework set this large is likely a mistake in `use` paths"))
                return
            if len(stack) > MAX_USE_DEPTH:
                diags.append(Diagnostic("KPI015", f"`use` goes more than {MAX_USE_DEPTH} files deep", decl.span,
                                        help="let a frame use the files it needs directly, not through a long chain"))
                return
            why = not_a_file(target)
            if why == "it is a folder, not a file":
                diags.append(Diagnostic("KPI011", f"used file `{decl.path}` is a folder", decl.span,
                                        help="`use` names one framework file"))
                continue
            if why == "no such folder or file":
                parent = Path(target).parent
                siblings = [p.name for p in parent.glob("*.kpi") if p.is_file()] if parent.is_dir() else []
                diags.append(Diagnostic("KPI011", f"used file `{decl.path}` does not exist", decl.span,
                                        help=did_you_mean(Path(target).name, siblings)
                                        or "paths in `use` are relative to the file that uses them"))
                continue
            if why is not None:  # a pipe or a device could block forever: never opened
                diags.append(Diagnostic("KPI011", f"used file `{decl.path}` cannot be read: {why}", decl.span,
                                        help="`use` names one framework file"))
                continue
            used = loader.load(target)
            diags.extend(used.diagnostics)
            _collect_uses(used, loader, stack + [target], seen, order, diags, root)
    order.append(lf)


def _extended_ids(fw: n.Framework, program: Program, diags: list[Diagnostic]) -> set[str]:
    """The ids this framework extends, directly or through the frameworks it extends."""
    out: set[str] = set()
    todo = [fw]
    while todo:
        cur = todo.pop()
        for decl in cur.decls:
            if isinstance(decl, n.Extends) and decl.target not in out:
                target = program.frameworks.get(decl.target)
                if target is None or target is fw:
                    if cur is fw:
                        diags.append(Diagnostic(
                            "KPI013", f"no used framework has the id `{decl.target}`", decl.span,
                            help=did_you_mean(decl.target, program.frameworks)
                            or "add a `use \"path/to/file.kpi\"` for the framework to extend"))
                    continue
                out.add(decl.target)
                todo.append(target)
    return out


def _origin_extended(program: Program, decl: n.Node, extends: set[str]) -> bool:
    for fid in extends:
        fw = program.frameworks.get(fid)
        if fw is not None and decl.span.file == fw.span.file:
            return True
    return False


def _merge(program: Program, fw: n.Framework, extends: set[str], diags: list[Diagnostic]) -> None:
    for decl in fw.decls:
        if isinstance(decl, n.Require):
            program.requires.append(decl)
        elif isinstance(decl, n.UnitsEntity):
            program.units = _single(program.units, decl, "units", extends, program, diags)
        elif isinstance(decl, n.PeopleEntity):
            program.people = _single(program.people, decl, "people", extends, program, diags)
        elif isinstance(decl, n.ExtendBlock):
            _apply_extend(program, decl, diags)
        elif type(decl) in _NAMESPACES:
            attr, kind = _NAMESPACES[type(decl)]
            table = getattr(program, attr)
            old = table.get(decl.name)
            if old is not None:
                if old.span.file == decl.span.file or not _origin_extended(program, old, extends):
                    diags.append(Diagnostic(
                        "KPI021", f"{kind} `{decl.name}` is declared twice", decl.span,
                        notes=(f"first declared at {old.span.file}:{old.span.line}:{old.span.column}",),
                        help="rename one of them; an extending framework may redefine an inherited one"))
                    continue
                program.replacements.append(Replacement(old, decl, old.locked, decl.span,
                                                        locked_by=old if old.locked else None))
            table[decl.name] = decl


def _single(old, decl, kind: str, extends: set[str], program: Program, diags: list[Diagnostic]):
    if old is not None:
        if old.span.file == decl.span.file or not _origin_extended(program, old, extends):
            diags.append(Diagnostic("KPI021", f"`{kind} from ...` is declared twice", decl.span,
                                    help=f"declare where {kind} come from once"))
            return old
        program.replacements.append(Replacement(old, decl, False, decl.span))
    return decl


def _apply_extend(program: Program, ext: n.ExtendBlock, diags: list[Diagnostic]) -> None:
    """Rewrite the targeted score or group with the extension's items and options."""
    parts = ext.target.parts
    score = program.scores.get(parts[0])
    if score is None:
        diags.append(Diagnostic("KPI082", f"there is no score `{parts[0]}` to extend", ext.target.span,
                                help=did_you_mean(parts[0], program.scores) or "extend a score of a used framework"))
        return
    try:
        new_score = _extend_node(program, score, parts[1:], ext, lock=None, depth=1)
    except LookupError as err:
        message, missing, names, depth = err.args
        holder = ".".join(parts[:depth])
        diags.append(Diagnostic("KPI082", message, ext.target.span,
                                help=did_you_mean(missing, names)
                                or f"to add a group, write `extend {holder} {{ group {missing} ... }}`"))
        return
    program.scores[parts[0]] = new_score


def _extend_node(program: Program, node, rest: tuple[str, ...], ext: n.ExtendBlock, lock: n.Node | None,
                 depth: int):
    """`lock` is the nearest locked score or group around `node`; `depth` counts the path parts walked."""
    lock = node if node.locked else lock
    locked = lock is not None
    if rest:
        names = [i.name for i in node.items if isinstance(i, n.Group)]
        for i, item in enumerate(node.items):
            if isinstance(item, n.Group) and item.name == rest[0]:
                child = _extend_node(program, item, rest[1:], ext, lock, depth + 1)
                items = node.items[:i] + (child,) + node.items[i + 1:]
                return dataclasses.replace(node, items=items)
        raise LookupError(f"`{node.name}` has no group `{rest[0]}`", rest[0], names, depth)
    changes: dict = {}
    if ext.share is not None and isinstance(node, n.Group):
        if node.share != ext.share:
            program.replacements.append(Replacement(node, ext, locked, ext.share.span, locked_by=lock,
                                                    change="share"))
        changes["share"] = ext.share
    if ext.total is not None and isinstance(node, n.Score):
        if node.total != ext.total:
            program.replacements.append(Replacement(node, ext, locked, ext.total.span, locked_by=lock,
                                                    change="total"))
        changes["total"] = ext.total
    if ext.missing is not None:
        if node.missing != ext.missing:
            program.replacements.append(Replacement(node, ext, locked, ext.span, locked_by=lock, change="missing"))
        changes["missing"] = ext.missing
    kept = [i for i in node.items if not ext.replace or getattr(i, "locked", False) or locked
            or isinstance(i, n.UseRating)]
    if ext.replace and locked and node.items:
        program.replacements.append(Replacement(node, ext, True, ext.span, locked_by=lock, change="drop"))
    for item in ext.items:
        for j, old in enumerate(kept):
            if getattr(old, "name", None) == item.name and not isinstance(old, n.UseRating):
                item_lock = old if old.locked else lock
                program.replacements.append(Replacement(old, item, item_lock is not None, item.span,
                                                        locked_by=item_lock))
                kept[j] = item
                break
        else:
            if locked:
                program.replacements.append(Replacement(node, item, True, item.span, locked_by=lock, change="add"))
            kept.append(item)
    changes["items"] = tuple(kept)
    return dataclasses.replace(node, **changes)
