"""Checking many framework files on two cores: half of the roots in a forked copy of the process.

Parsing is most of a check and files are independent until they are resolved,
so a large set is split by size between this process and one forked child;
each checks its roots with its own loader (a file both halves read, such as a
central frame, is parsed in both) and the child sends back its findings.
Sending parsed trees back would cost more than parsing them again; findings
are few and small. Anything that goes wrong in the child is answered by
checking its half here, so the findings never depend on the split.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable

from kpidsl.diagnostics import Diagnostic

# Below this much framework text a fork costs more than it saves.
MIN_SPLIT_BYTES = 192 * 1024

Checked = tuple[list[Diagnostic], list[str]]   # a root's findings and every file its check read


def check_all(files: list[str], check_one: Callable[[str], Checked]) -> list[Checked]:
    """CHECK_ONE of every file, in order; on a machine with two free cores a large set is split in two."""
    halves = _halves(files)
    if halves is None:
        return [check_one(path) for path in files]
    mine, theirs = halves
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: check its half, send the findings, leave without running the parent's exit hooks
        code = 1
        try:
            os.close(reader)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            data = pickle.dumps([check_one(files[i]) for i in theirs], protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    results: dict[int, Checked] = {}
    reaped = False
    try:
        for i in mine:
            results[i] = check_one(files[i])
        with os.fdopen(reader, "rb") as incoming:
            data = incoming.read()
        _, status = os.waitpid(pid, 0)
        reaped = True
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            results.update(zip(theirs, pickle.loads(data)))
        else:
            results.update((i, check_one(files[i])) for i in theirs)
    finally:
        if not reaped:   # interrupted: the child's work is no longer wanted
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    return [results[i] for i in range(len(files))]


def _halves(files: list[str]) -> tuple[list[int], list[int]] | None:
    """The files' places split into two halves of about equal size, or None when splitting does not pay."""
    if len(files) < 4 or not hasattr(os, "fork") or _cores() < 2:
        return None
    sizes = []
    for path in files:
        try:
            sizes.append(os.path.getsize(path))
        except OSError:
            sizes.append(0)
    if sum(sizes) < MIN_SPLIT_BYTES:
        return None
    halves: tuple[list[int], list[int]] = ([], [])
    totals = [0, 0]
    for i in sorted(range(len(files)), key=lambda i: -sizes[i]):
        lighter = 0 if totals[0] <= totals[1] else 1
        halves[lighter].append(i)
        totals[lighter] += sizes[i]
    return sorted(halves[0]), sorted(halves[1])


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
