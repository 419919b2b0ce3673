"""DuckDB connections as kpidsl opens them: no extension installed or loaded behind its back.

DuckDB installs and loads an extension it needs on first use (a SQLite file given
as a database makes it download `sqlite_scanner` and create `~/.duckdb/`). kpidsl
needs only what the DuckDB package ships built in (parquet, json, icu, the core
functions), so every connection it opens refuses anything else.
"""

from __future__ import annotations

from typing import Any

LOCKED_DOWN = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}


def connect(database: str = ":memory:", *, read_only: bool = False, **settings: Any) -> Any:
    """A new connection with extensions locked down; `settings` are further DuckDB settings."""
    import duckdb

    return duckdb.connect(database, read_only=read_only, config={**LOCKED_DOWN, **settings})
