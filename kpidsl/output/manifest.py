"""The run manifest: which framework files, data files, period and engine produced a run's outputs.

No clock time and no absolute path goes in: framework files are named relative to
the root framework's folder and data files by their name inside the source, so
the same inputs give the same manifest wherever and whenever they are run.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from kpidsl.data.sources import sha256_of

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 2
"""2 added `framework.files[].source`, `what_if`, `data.allowed_empty` and `population`; a version 1
manifest still reads (the added fields take their defaults)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Engine(_Model):
    name: str = "kpidsl"
    version: str


class FrameworkFile(_Model):
    path: str            # relative to the root framework's folder, `/`-separated
    sha256: str
    size: int
    id: str | None = None
    title: str | None = None
    version: str | None = None
    effective: datetime.date | None = None
    source: str | None = None  # its copy in the run folder: evidence/sources/...


class Rounding(_Model):
    places: int
    mode: str


class FrameworkInfo(_Model):
    id: str
    title: str | None
    version: str | None
    effective: datetime.date | None
    period: str | None
    rounding: Rounding
    root: str
    files: list[FrameworkFile]


class PeriodInfo(_Model):
    label: str
    kind: str
    start: datetime.date
    end: datetime.date


class DataFileInfo(_Model):
    input: str
    name: str
    format: str
    sha256: str
    size: int


class InputRows(_Model):
    """read = in_period + outside_period; in_period = used + rejected."""

    input: str
    file: str | None
    read: int
    in_period: int
    outside_period: int
    used: int
    rejected: int


class DataInfo(_Model):
    source: str
    reject_invalid: bool
    files: list[DataFileInfo]
    rows: list[InputRows]
    allowed_empty: list[str] = []  # inputs --allow-empty let have no row in the period


class QuotaDecision(_Model):
    rating: str | None
    level: str | None
    of_level: str | None
    group: str | None
    allowed: int | None
    holders: int | None
    resolution: str | None
    kept: list[str]
    moved: list[str]


class ResultCount(_Model):
    entity: str
    status: str
    count: int


class Population(_Model):
    """Of one entity's rows scored: how many no score's `where` held for, and how many several held for."""

    entity: str
    matched_none: int
    matched_several: int


class OutputFile(_Model):
    name: str            # relative to the output folder, `/`-separated
    sha256: str
    size: int


class Manifest(_Model):
    manifest_version: int = MANIFEST_VERSION
    engine: Engine
    framework: FrameworkInfo
    period: PeriodInfo
    data: DataInfo
    results: list[ResultCount]
    quota: list[QuotaDecision]
    # Scored with --what-if: a period before the framework's `effective` date; never an official result.
    what_if: bool = False
    # Per entity, for a period run (a roll-up run scores its periods apart and leaves this empty).
    population: list[Population] = []
    outputs: list[OutputFile] = []

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def _relative(path: str, base: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()


def framework_info(program: Any, sources: Sequence[Any] = ()) -> FrameworkInfo:
    """The root framework's header and every file it is built from, hashed.

    `sources` are the copies kept in the run folder (output/sources.py): a file copied there
    is hashed from the bytes copied, and names its copy.
    """
    root = program.root
    base = os.path.dirname(os.path.abspath(program.root_file))
    by_file = {os.path.normpath(fw.span.file): fw for fw in program.frameworks.values()}
    copies = {os.path.normpath(c.path): c for c in sources}
    files = []
    for path in program.files:
        fw = by_file.get(os.path.normpath(path))
        copy = copies.get(os.path.normpath(path))
        digest, size = (copy.sha256, len(copy.data)) if copy is not None else sha256_of(path)
        files.append(FrameworkFile(path=_relative(path, base), sha256=digest, size=size,
                                   id=fw.id if fw else None, title=fw.title if fw else None,
                                   version=fw.version if fw else None, effective=fw.effective if fw else None,
                                   source=copy.output_name if copy is not None else None))
    rounding = program.rounding
    return FrameworkInfo(id=root.id, title=root.title, version=root.version, effective=root.effective,
                         period=root.period, root=_relative(program.root_file, base),
                         rounding=Rounding(places=rounding.places if rounding else 2,
                                           mode=rounding.mode if rounding else "half_up"),
                         files=files)


def data_info(source_path: str, load: Any, allowed_empty: Sequence[str] = ()) -> DataInfo:
    files = [DataFileInfo(input=f.input, name=f.name, format=f.format, sha256=f.sha256, size=f.size)
             for f in load.files]
    rows = [InputRows(input=c.input, file=c.file, read=c.read, in_period=c.read - c.outside_period,
                      outside_period=c.outside_period, used=c.used, rejected=c.rejected)
            for c in load.counts.values()]
    name = os.path.basename(os.path.normpath(source_path)) or source_path
    return DataInfo(source=name, reject_invalid=load.reject_invalid, files=files, rows=rows,
                    allowed_empty=sorted(set(allowed_empty)))


def period_info(period: Any) -> PeriodInfo:
    return PeriodInfo(label=period.label, kind=period.kind, start=period.start, end=period.end)


def result_counts(con: Any) -> list[ResultCount]:
    from kpidsl.output.tables import result_table

    rows = con.execute(f"SELECT entity, status, count(*) FROM {result_table('entities')} "
                       "GROUP BY ALL ORDER BY entity, status").fetchall()
    return [ResultCount(entity=e, status=s, count=c) for e, s, c in rows]


def population_counts(con: Any) -> list[Population]:
    """Entities matched by no score's `where`, and by more than one (the first of them scored it)."""
    from kpidsl.output.tables import present_wide_tables
    from kpidsl.plan import MATCHED_COLUMN, wide_table
    from kpidsl.sql.quoting import ident

    out = []
    for entity in present_wide_tables(con):
        column = ident(MATCHED_COLUMN)
        none, several = con.execute(f"SELECT count(*) FILTER (WHERE {column} = 0), count(*) FILTER (WHERE "
                                    f"{column} > 1) FROM {wide_table(entity)}").fetchall()[0]
        out.append(Population(entity=entity, matched_none=none, matched_several=several))
    return out


def quota_decisions(con: Any) -> list[QuotaDecision]:
    from kpidsl.output.tables import ORDER_BY, result_table

    rows = con.execute(f"SELECT rating, level, of_level, group_key, allowed, holders, resolution, kept, moved "
                       f"FROM {result_table('quota')} ORDER BY {ORDER_BY['quota']}").fetchall()
    return [QuotaDecision(rating=r, level=lv, of_level=of, group=g, allowed=a, holders=h, resolution=res,
                          kept=list(k or []), moved=list(m or [])) for r, lv, of, g, a, h, res, k, m in rows]


def output_files(folder: str, names: Sequence[str]) -> list[OutputFile]:
    out = []
    for name in sorted(names):
        digest, size = sha256_of(os.path.join(folder, name))
        out.append(OutputFile(name=name, sha256=digest, size=size))
    return out


def read_manifest(folder: str) -> Manifest:
    """The manifest of a run folder; ValueError (with the reason) when it is missing or not one."""
    path = os.path.join(folder, MANIFEST_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ValueError(f"{folder}: no {MANIFEST_FILE}; this is not the output folder of `kpidsl run`") from None
    except (OSError, UnicodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None
    try:
        return Manifest.model_validate(data)
    except Exception as err:  # pydantic's ValidationError: a manifest of another version or a damaged one
        first = str(err).splitlines()[0]
        raise ValueError(f"{path}: not a manifest this kpidsl can read ({first})") from None


def is_run_folder(folder: str) -> bool:
    """A folder a previous run wrote (it may be replaced): it holds a kpidsl manifest."""
    try:
        with open(os.path.join(folder, MANIFEST_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("engine"), dict) and data["engine"].get("name") == "kpidsl"
