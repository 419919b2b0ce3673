"""Data: where each input's rows come from, typing cells, validating a period, and the problems found.

Nothing here imports duckdb at package import time, so `kpidsl check` stays fast.
"""
