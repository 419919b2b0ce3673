"""The engine: executes a Plan it is given on a DuckDB connection holding a validated period."""
