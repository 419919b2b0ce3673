"""The engine: loads a period's data into DuckDB, checks it against the inputs, and scores it.

Data half: `period` (periods), `sources` (where each input's rows come from),
`convert` (SQL that types a cell), `validate` (typed relations and data problems),
`problems` (their shape and text forms), `sql` (quoting and parameters).
Nothing here imports duckdb at package import time, so `kpidsl check` stays fast.
"""
