"""The output folder of a run: one writer at a time, a swap that the next reader finishes or undoes,
and nothing left behind past the next run.

A run writing DIR keeps everything of its own next to DIR, in DIR's parent, named after DIR:

    .DIR.lock            held (flock) by the run writing DIR, holding its pid
    .DIR.work-XXXXXXXX/  the run's work folder: DuckDB's spilled tables, temporary files
    .DIR.tmp-XXXXXXXX/   the new run while it is written
    .DIR.old-XXXXXXXX/   the earlier run while the new one takes its place
    .DIR.swap            the journal of that swap: which tmp- and old- folder it moves

The swap is committed the moment the new folder is renamed to DIR. A run killed
before that leaves DIR as it was, or (killed between the two renames) missing with
the journal saying where the earlier run is; whoever takes the lock next (the next
run, or `explain`) puts it back. Whatever else matches the names above belongs to
a run that no longer holds the lock, so it is deleted.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from kpidsl import faults, interrupts

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: runs are not locked against each other
    fcntl = None  # type: ignore[assignment]

JOURNAL_VERSION = 1
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_LONGEST_STEM = 180  # bytes of DIR's name kept in the hidden names; the rest becomes a hash


class FolderBusy(Exception):
    """Another live process holds the lock of the output folder."""

    def __init__(self, target: str, pid: int | None) -> None:
        who = f"another kpidsl run (process {pid})" if pid else "another kpidsl run"
        super().__init__(f"{who} is writing {target} right now; wait for it to finish, or choose another folder")
        self.pid = pid


def stem_of(name: str) -> str:
    """DIR's name as it appears in the hidden names: whole when short, else cut and made unique by a hash."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= _LONGEST_STEM:
        return name
    cut = raw[:_LONGEST_STEM - 14].decode("utf-8", "ignore")
    return f"{cut}~{hashlib.sha256(raw).hexdigest()[:12]}"


def name_max(folder: str) -> int:
    """The longest file name (bytes) the file system of `folder`, or its nearest existing parent, allows."""
    probe = folder
    while probe and not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        return os.pathconf(probe or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def out_problem(out: str) -> str | None:
    """Why `out` cannot receive a run's outputs, if it cannot.

    An existing folder is replaced only when it is empty or holds an earlier run
    (a kpidsl manifest), so a mistyped --out never deletes someone's files.
    """
    from kpidsl.output.manifest import is_run_folder

    target = os.path.abspath(out)
    name = os.path.basename(target)
    if not name:
        return f"{out} is the root of the file system; name a folder below it"
    blocker = _file_in_the_way(os.path.dirname(os.path.normpath(out)))
    if blocker is not None:
        return f"{blocker} is a file, not a folder, so {out} cannot be made inside it"
    longest = name_max(os.path.dirname(target))
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > longest:
        return f"the name {name[:40]}… is {size} bytes long; this file system allows at most {longest}"
    if os.path.lexists(out) and not os.path.isdir(out):
        return f"{out} exists and is not a folder"
    if os.path.islink(out):
        return f"{out} is a symbolic link; name the folder itself"
    if os.path.isdir(out):
        try:
            empty = not os.listdir(out)
        except OSError as err:
            return f"cannot read the folder {out}: {err.strerror or err}"
        if not empty and not is_run_folder(out):
            return (f"{out} holds files that kpidsl did not write (no manifest.json of an earlier run); "
                    "name a new folder or an earlier run's folder")
    return None


def _file_in_the_way(folder: str) -> str | None:
    """The nearest existing part of `folder` when it is not a folder (`afile` in `afile/sub/out`)."""
    probe = folder
    while probe and not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    return None if not probe or os.path.isdir(probe) else probe


class OutputFolder:
    """DIR and everything a run keeps next to it: lock, work folder, new folder, swap."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.target = os.path.abspath(out)
        self.parent = os.path.dirname(self.target)
        self.name = os.path.basename(self.target)
        self.stem = stem_of(self.name)
        self.lock_path = os.path.join(self.parent, f".{self.stem}.lock")
        self.journal_path = os.path.join(self.parent, f".{self.stem}.swap")
        self._leftover = re.compile(rf"\.{re.escape(self.stem)}\.(tmp|old|work)-[a-z0-9_]{{8}}")
        self._lock_fd: int | None = None
        self._created: list[str] = []
        self._mine: list[str] = []  # the work and new folders this process made
        self.placed = False  # the new folder has taken DIR's place

    # ------------------------------------------------------------ the lock

    def lock(self) -> None:
        """Make DIR's parent if needed and take the lock; FolderBusy when a live run holds it."""
        missing = []
        probe = self.parent
        while not os.path.isdir(probe):
            missing.append(probe)
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        os.makedirs(self.parent, exist_ok=True)
        self._created = missing  # deepest first: removed in this order when the run fails
        if fcntl is None:
            return
        for _ in range(10):
            # Never through a symbolic link: a link planted in the parent would make the run truncate its target.
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise FolderBusy(self.out, pid) from None
            except OSError:
                os.close(fd)
                raise
            # The holder before us may have deleted the file between our open and our flock:
            # then we hold a lock on a file nobody else can find, and must try again.
            try:
                here, there = os.fstat(fd), os.stat(self.lock_path)
                same = (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._lock_fd = fd
                return
            os.close(fd)
        raise FolderBusy(self.out, None)

    def release(self, failed: bool) -> None:
        """Delete this process's work and new folders and the lock; after a failed run, the parent
        folders the run made (when still empty)."""
        for path in self._mine:
            shutil.rmtree(path, ignore_errors=True)
        self._mine.clear()
        if self.placed:
            _unlink(self.journal_path)  # the swap is done even if a signal cut it short before this
        if self._lock_fd is not None:
            try:
                os.unlink(self.lock_path)
            except OSError:
                pass
            os.close(self._lock_fd)
            self._lock_fd = None
        if failed and not self.placed:
            for folder in self._created:
                try:
                    os.rmdir(folder)
                except OSError:
                    break
        self._created = []

    # ------------------------------------------------------------ recovery

    def leftovers(self) -> list[str]:
        """Names next to DIR that an interrupted run may have left (none is ours while we hold the lock)."""
        try:
            names = os.listdir(self.parent)
        except OSError:
            return []
        found = [n for n in names if self._leftover.fullmatch(n)]
        if os.path.lexists(self.journal_path):
            found.append(os.path.basename(self.journal_path))
        return sorted(found)

    def recover(self) -> list[str]:
        """Under the lock: finish or undo an interrupted swap, delete what dead runs left; what was done, in words."""
        notices = []
        journal = self._read_journal()
        if journal is not None:
            said = self._finish_swap(journal)
            if said:
                notices.append(said)
        said = self._put_back_orphan()
        if said:
            notices.append(said)
        stale = [n for n in self.leftovers() if n != os.path.basename(self.journal_path)]
        for name in stale:
            path = os.path.join(self.parent, name)
            if os.path.isdir(path) and not os.path.islink(path):
                _make_deletable(path)
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        if stale:
            notices.append(f"removed what an interrupted run left next to {self.out}: {', '.join(stale)}")
        return notices

    def _read_journal(self) -> dict | None:
        if not os.path.lexists(self.journal_path):
            return None
        try:
            fd = os.open(self.journal_path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            try:
                raw = os.read(fd, 4096) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
            finally:
                os.close(fd)
        except OSError:
            raw = b""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeError, ValueError, RecursionError):
            data = None
        tmp = re.compile(rf"\.{re.escape(self.stem)}\.tmp-[a-z0-9_]{{8}}")
        old = re.compile(rf"\.{re.escape(self.stem)}\.old-[a-z0-9_]{{8}}")
        valid = (isinstance(data, dict) and isinstance(data.get("new"), str) and tmp.fullmatch(data["new"])
                 and (data.get("old") is None or (isinstance(data["old"], str) and old.fullmatch(data["old"]))))
        if not valid:
            # Written whole before anything is renamed: a journal cut short means nothing was moved yet.
            _unlink(self.journal_path)
            return None
        return data

    def _finish_swap(self, journal: dict) -> str | None:
        new = os.path.join(self.parent, journal["new"])
        holder = os.path.join(self.parent, journal["old"]) if journal.get("old") else None
        earlier = os.path.join(holder, self.name) if holder else None
        said = None
        if os.path.lexists(self.target):
            if os.path.isdir(new):
                said = (f"a run into {self.out} was interrupted before its results took the folder's place; "
                        f"{self.out} still holds the earlier run")
            else:
                said = f"a run into {self.out} was interrupted after its results took the folder's place"
        elif earlier is not None and os.path.isdir(earlier):
            os.rename(earlier, self.target)
            said = f"a run was interrupted while replacing {self.out}; the earlier run was put back in place"
        elif os.path.isdir(new):
            said = f"a run into {self.out} was interrupted before its results took the folder's place"
        _fsync_dir(self.parent)
        _unlink(self.journal_path)
        _fsync_dir(self.parent)
        return said

    def _put_back_orphan(self) -> str | None:
        """DIR missing and an earlier run in an `old-` folder without a journal (a swap interrupted by a
        kpidsl that kept none): put the newest such run back rather than delete it."""
        from kpidsl.output.manifest import is_run_folder

        if os.path.lexists(self.target):
            return None
        candidates = []
        for name in self.leftovers():
            earlier = os.path.join(self.parent, name, self.name)
            if ".old-" in name and os.path.isdir(earlier) and is_run_folder(earlier):
                candidates.append((os.stat(earlier).st_mtime, earlier))
        if not candidates:
            return None
        os.rename(max(candidates)[1], self.target)
        _fsync_dir(self.parent)
        return f"found the earlier run of {self.out} set aside by an interrupted run, and put it back in place"

    # ------------------------------------------------------------ writing

    def new_work(self) -> str:
        """A fresh work folder next to DIR (a disk the outputs fit on, unlike a temp folder in memory)."""
        return self._new("work")

    def new_staging(self) -> str:
        """A fresh folder next to DIR (same file system, so renaming it into place is atomic)."""
        staging = self._new("tmp")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the result should look like any new folder
        return staging

    def _new(self, kind: str) -> str:
        path = tempfile.mkdtemp(prefix=f".{self.stem}.{kind}-", dir=self.parent)
        self._mine.append(path)
        return path

    def publish(self, staging: str) -> None:
        """Put the finished `staging` folder at DIR; an earlier DIR is moved aside first and deleted last.

        The files are flushed to disk and a journal written before anything is renamed,
        and signals wait while the two renames happen: DIR is always either the complete
        earlier run or the complete new one, and after a crash the next reader finds out which.
        """
        problem = out_problem(self.target)
        if problem:
            raise OSError(errno.EEXIST, problem)
        _fsync_tree(staging)
        holder = tempfile.mkdtemp(prefix=f".{self.stem}.old-", dir=self.parent) \
            if os.path.lexists(self.target) else None
        if holder:
            self._mine.append(holder)
        aside = os.path.join(holder, self.name) if holder else None
        self._write_journal(staging, holder)
        faults.point("swap-journal")
        with interrupts.deferred():
            moved = False
            try:
                if aside is not None:
                    os.rename(self.target, aside)
                    moved = True
                    faults.point("swap-aside")
                os.rename(staging, self.target)
                self.placed = True
            except BaseException:
                if moved and aside is not None:
                    os.rename(aside, self.target)
                if holder:
                    shutil.rmtree(holder, ignore_errors=True)
                    self._mine.remove(holder)
                _unlink(self.journal_path)
                raise
        if staging in self._mine:
            self._mine.remove(staging)
        _fsync_dir(self.parent)
        faults.point("swap-in")
        if holder:
            shutil.rmtree(holder, ignore_errors=True)
        _unlink(self.journal_path)
        _fsync_dir(self.parent)

    def _write_journal(self, staging: str, holder: str | None) -> None:
        text = json.dumps({"version": JOURNAL_VERSION, "pid": os.getpid(), "new": os.path.basename(staging),
                           "old": os.path.basename(holder) if holder else None})
        _unlink(self.journal_path)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.parent)


@contextmanager
def locked_for_reading(out: str) -> Iterator[list[str]]:
    """For a command that reads DIR: finish or undo an interrupted swap first, and say so.

    Nothing is touched when nothing was left behind. When a live run holds the lock
    and DIR is missing (that run is between its two renames), FolderBusy.
    """
    folder = OutputFolder(out)
    if not folder.leftovers() and not os.path.lexists(folder.lock_path):
        yield []
        return
    try:
        folder.lock()
    except FolderBusy:
        if os.path.lexists(folder.target):
            yield []  # a run is writing; DIR is still the whole earlier run
            return
        raise
    except OSError:
        yield []  # a folder we may not write to: read it as it is
        return
    try:
        yield folder.recover()
    finally:
        folder.release(failed=False)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: str) -> None:
    """Every file and folder below `folder` flushed to disk, so a power cut after the swap finds them whole."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(root)


def _make_deletable(folder: str) -> None:
    """A leftover folder whose permissions a run changed is still removed as a whole."""
    for root, dirs, _files in os.walk(folder):
        for name in dirs:
            path = os.path.join(root, name)
            try:
                if not os.path.islink(path):
                    os.chmod(path, stat.S_IRWXU)
            except OSError:
                pass
