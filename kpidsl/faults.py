"""Named points where a fault-injection test may stop a run (KPIDSL_FAULT=POINT:SIGNAL).

`tests/test_faults.py` runs `kpidsl run` with, say, `KPIDSL_FAULT=swap-aside:KILL`:
when the run reaches that point it sends itself SIGKILL, exactly there, and the
test checks that the output folder is still the earlier run or the new one, whole,
and that nothing is left after the next run. The variable is for tests; unset (as
always in use), `point()` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "KPIDSL_FAULT"

POINTS = (
    "locked",         # the output folder is locked, leftovers of earlier runs removed
    "loaded",         # the data is loaded and checked; the work folder holds DuckDB's tables
    "scored",         # the results are computed, nothing written yet
    "evidence",       # the evidence is written into the new folder
    "write-csv",      # the first CSV table is written, the others not yet
    "write-parquet",  # the first Parquet table is written
    "write-json",     # the first JSON table is written
    "write-xlsx",     # the workbook's sheets are in the writer's temporary files, the .xlsx not yet written
    "report",         # report.html is written
    "manifest",       # manifest.json is written: the new folder is complete
    "swap-journal",   # the journal of the swap is written, nothing renamed yet
    "swap-aside",     # the earlier folder is moved aside; the output folder does not exist
    "swap-in",        # the new folder is in place; the earlier one is not yet deleted
)


def point(name: str) -> None:
    """Stop here if the fault variable names this point."""
    wanted = os.environ.get(VARIABLE)
    if not wanted:
        return
    where, _, how = wanted.partition(":")
    if where != name:
        return
    signum = getattr(signal, f"SIG{how or 'KILL'}", signal.SIGKILL)
    os.kill(os.getpid(), signum)
