"""A run's files are the same bytes whatever number of threads DuckDB uses (as on a machine with other cores).

The items table must span several Parquet row groups (122,880 rows each) for the layout of the
files to depend on how DuckDB splits the work; 25,000 people give about 140,000 item rows.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import duckdb

from kpidsl.period import quarter
from kpidsl.pipeline import RUN_OK, OutputOptions, run_framework

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import gen_data  # noqa: E402 - after the path above

CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"


def _run(monkeypatch, data: Path, out: Path, threads: int) -> dict[str, str]:
    connect = duckdb.connect

    def with_threads(*args, config=None, **kw):
        return connect(*args, config={**(config or {}), "threads": threads}, **kw)

    monkeypatch.setattr(duckdb, "connect", with_threads)
    report = run_framework(str(CENTRAL), str(data), "2025-Q3", str(out), options=OutputOptions(long=True))
    monkeypatch.setattr(duckdb, "connect", connect)
    assert report.outcome == RUN_OK, report
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_outputs_do_not_depend_on_threads(tmp_path, monkeypatch):
    data = tmp_path / "data"
    gen_data.generate(gen_data.Spec(people=25_000, tasks_per_person=6, period=quarter(2025, 3), format="parquet",
                                    out=data, seed=3))
    one = _run(monkeypatch, data, tmp_path / "one", 1)
    four = _run(monkeypatch, data, tmp_path / "four", 4)
    with duckdb.connect() as con:
        (items,) = con.execute("SELECT count(*) FROM read_parquet($p)",
                               {"p": str(tmp_path / "one" / "items.parquet")}).fetchone()
    assert items > 122_880  # several row groups, or the test proves nothing
    assert one == four
