"""Small SQL helpers: quoting identifiers and binding values as named parameters."""

from __future__ import annotations

from typing import Any

DATA_SCHEMA = "data"
"""The schema holding one typed table per input, named exactly like the input."""

WORK_SCHEMA = "kpi_load"
"""The schema for raw staging tables and the problems table of a load."""


def ident(name: str) -> str:
    """A quoted SQL identifier; any text (quotes, semicolons, `<script>`) stays a name."""
    if "\x00" in name:
        raise ValueError("an identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


class Params:
    """Named parameters for one statement: values go here, never into the SQL text."""

    def __init__(self, prefix: str = "p") -> None:
        self.prefix = prefix
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        key = f"{self.prefix}{len(self.values)}"
        self.values[key] = value
        return self.ref(key)

    def ref(self, key: str) -> str:
        return f"${key}"


class Constants(Params):
    """Values for a view, which cannot take parameters: they are bound once into a one-row
    table (`CREATE TABLE .. AS SELECT $p0 AS p0, ..`) that the view joins as `alias`."""

    def __init__(self, alias: str) -> None:
        super().__init__("k")
        self.alias = alias

    def ref(self, key: str) -> str:
        return f"{self.alias}.{key}"

    def create(self, con: Any, table: str) -> None:
        items = [f"${key} AS {key}" for key in self.values] or ["true AS unused"]
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(items)}", self.values)
