"""The per-user cache folder shared by the parse tables and remembered check results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """Where parse tables and check results are kept between runs, or None to keep nothing.

    The parse tables are a pickle, and loading a pickle runs code: the folder must belong
    to this user and be writable by no one else, or it is not used at all.
    """
    configured = os.environ.get("KPIDSL_CACHE_DIR")
    try:
        if configured:
            folder = Path(configured)
        elif os.environ.get("XDG_CACHE_HOME"):
            folder = Path(os.environ["XDG_CACHE_HOME"]) / "kpidsl"
        else:
            folder = Path.home() / ".cache" / "kpidsl"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None
    return folder
