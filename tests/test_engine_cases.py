"""Golden scoring cases: tests/cases/run/<case>/ holds framework.kpi, data/ (CSV), period.txt and expected/.

expected/entities.csv is the whole `results.entities` table (scores compared as numbers);
expected/checks.txt lists further facts, one per line (`#` starts a comment):

    measure ENTITY ID NAME = VALUE            (VALUE `missing` for no value)
    measure ENTITY ID NAME rows TOTAL MATCHED
    item ENTITY ID SCORE PATH COLUMN = VALUE  (value credit weight budget contribution missing_policy)
    step ENTITY ID SCORE STEP FROM -> TO      (a rating step that changed the level)
    nostep ENTITY ID SCORE STEP               (no such step)
    quota RATING LEVEL GROUP allowed N holders N kept A,B|- moved C|-
    period ENTITY ID PERIOD SCORE STATUS VALUE RATING   (a roll-up run's period result; `-` for none)
    sums                                      (shown contributions add up in every block)
    error TEXT                                (scoring fails with an error containing TEXT)

Every expected value was worked out by hand; each case's NOTES.md shows the arithmetic.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import CASES
from kpidsl.check import CheckContext
from kpidsl.data.sources import FolderSource
from kpidsl.data.validate import load_and_validate
from kpidsl.period import parse_period
from kpidsl.pipeline import check_file
from kpidsl.scoring import EngineError, score_period
from kpidsl.semantic.resolve import Loader
from kpidsl.semantic.scope import scope_of

RUN = CASES / "run"
CASE_DIRS = sorted(p for p in RUN.iterdir() if p.is_dir()) if RUN.is_dir() else []


def run_case(case: Path):
    program, diags = check_file(str(case / "framework.kpi"), Loader())
    errors = [d for d in diags if d.is_error]
    assert program is not None and not errors, [d.message for d in errors]
    period = parse_period((case / "period.txt").read_text(encoding="utf-8").strip())
    con = duckdb.connect()
    load = load_and_validate(con, program, FolderSource(str(case / "data")), period)
    assert load.ok, [p.render() for p in load.problems]
    analysis = scope_of(CheckContext(program))
    return con, program, analysis, period


def _num(text: str):
    if text in ("missing", ""):
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        return text


def _same(got, want) -> bool:
    if want is None:
        return got is None
    if isinstance(want, Decimal):
        return got is not None and not isinstance(got, str) and Decimal(str(got)) == want
    return str(got) == want


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case(case: Path):
    assert (case / "NOTES.md").is_file(), "every case explains its numbers in NOTES.md"
    con, program, analysis, period = run_case(case)
    checks = [line.split("#", 1)[0].strip() for line in
              (case / "expected" / "checks.txt").read_text(encoding="utf-8").splitlines()]
    checks = [c for c in checks if c]
    errors = [c[len("error "):] for c in checks if c.startswith("error ")]
    if errors:
        with pytest.raises(EngineError) as info:
            score_period(con, program, analysis, period)
        for text in errors:
            assert text in str(info.value)
        return
    score_period(con, program, analysis, period)
    _entities(con, case)
    for check in checks:
        _check(con, check)


def _entities(con, case: Path) -> None:
    with open(case / "expected" / "entities.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = con.execute("SELECT entity, id, score_name, status, score, rating, rating_before, unit_id, reason "
                      "FROM results.entities ORDER BY entity, id, score_name NULLS FIRST").fetchall()
    cols = ["entity", "id", "score_name", "status", "score", "rating", "rating_before", "unit_id", "reason"]
    assert len(got) == len(rows), f"{len(got)} entities, expected {len(rows)}: {got}"
    for want, have in zip(rows, got):
        for col, value in zip(cols, have):
            expected = want[col]
            if col == "score":
                assert _same(value, _num(expected)), (want, have)
            elif col == "reason" and expected:
                assert value is not None and expected in value, (want, have)
            else:
                assert (value or "") == expected, (col, want, have)


def _check(con, check: str) -> None:
    words = check.split()
    kind = words[0]
    if kind == "measure" and words[4] == "=":
        _, entity, id_, name, _, value = words
        rows = con.execute("SELECT value, value_text FROM results.measures WHERE entity = ? AND id = ? AND name = ?",
                           [entity, id_, name]).fetchall()
        assert len(rows) == 1, check
        got = rows[0][0] if rows[0][1] is None or rows[0][0] is not None else rows[0][1]
        assert _same(got, _num(value)), (check, rows)
    elif kind == "measure":
        _, entity, id_, name, _, total, matched = words
        rows = con.execute("SELECT rows_total, rows_matched FROM results.measures WHERE entity = ? AND id = ? "
                           "AND name = ?", [entity, id_, name]).fetchall()
        assert rows == [(int(total), int(matched))], (check, rows)
    elif kind == "item":
        _, entity, id_, score, path, column, _, value = words
        assert column in ("value", "credit", "weight", "budget", "contribution", "missing_policy"), check
        rows = con.execute(f'SELECT "{column}" FROM results.items WHERE entity = ? AND id = ? AND score_name = ? '
                           "AND path = ?", [entity, id_, score, path]).fetchall()
        assert len(rows) == 1, check
        assert _same(rows[0][0], _num(value)), (check, rows)
    elif kind in ("step", "nostep"):
        entity, id_, score, step = words[1:5]
        rows = con.execute("SELECT from_level, to_level FROM results.rating_steps WHERE entity = ? AND id = ? "
                           "AND score_name = ? AND step = ?", [entity, id_, score, step]).fetchall()
        if kind == "nostep":
            assert rows == [], (check, rows)
        else:
            assert rows == [(words[5], words[7])], (check, rows)
    elif kind == "quota":
        _, rating, level, group, _, allowed, _, holders, _, kept, _, moved = words
        rows = con.execute("SELECT allowed, holders, kept, moved FROM results.quota WHERE rating = ? AND level = ? "
                           "AND group_key = ?", [rating, level, group]).fetchall()
        def names(t):
            return ([] if t == "-" else t.split(","))
        assert rows == [(int(allowed), int(holders), names(kept), names(moved))], (check, rows)
    elif kind == "period":
        _, entity, id_, period, score, status, value, rating = words
        rows = con.execute("SELECT score_name, status, score, rating FROM results.periods WHERE entity = ? AND id = ? "
                           "AND period = ?", [entity, id_, period]).fetchall()
        assert len(rows) == 1, (check, rows)
        name, got_status, got, got_rating = rows[0]
        def dash(t):
            return (None if t == "-" else t)
        assert (name, got_status, got_rating) == (dash(score), status, dash(rating)), (check, rows)
        assert _same(got, None if value == "-" else _num(value)), (check, rows)
    elif kind == "sums":
        _sums(con)
    else:  # pragma: no cover - a typo in a golden file
        raise AssertionError(f"unknown check {check!r}")


def _sums(con) -> None:
    """In every block not kept at 0 or its budget, the shown contributions add up to the block's."""
    scores = con.execute("SELECT entity, id, score_name, score FROM results.entities WHERE status = 'ok' "
                         "AND score IS NOT NULL").fetchall()
    for entity, id_, score_name, score in scores:
        items = con.execute("SELECT path, parent_path, kind, contribution, budget FROM results.items "
                            "WHERE entity = ? AND id = ? AND score_name = ?", [entity, id_, score_name]).fetchall()
        blocks = {None: score}
        blocks.update({p: c for p, _, k, c, _ in items if k == "group"})
        for block, total in blocks.items():
            parts = [c for _, parent, _, c, _ in items if parent == block and c is not None]
            if parts:
                assert sum(parts) == total, (entity, id_, score_name, block, parts, total)


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_wide_tables_hold_what_the_items_hold(case: Path):
    """The people and units outputs, read from the engine's wide tables, equal the pivot of `items`."""
    from kpidsl.output.tables import entity_table, framework_evidence, wide_table

    expected = (case / "expected" / "checks.txt").read_text(encoding="utf-8")
    if any(line.startswith("error ") for line in expected.splitlines()):
        pytest.skip("this case does not score")
    con, program, analysis, period = run_case(case)
    score_period(con, program, analysis, period)
    evidence = framework_evidence(program)
    made = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = 'results'").fetchall()}
    if period.kind != program.root.period:
        assert not any(name.startswith("wide:") for name in made)  # a roll-up run: items are pivoted
        return
    for entity in ("people", "units"):
        table = entity_table(con, entity, evidence)
        assert "wide:" in table.source
        from_wide = con.execute(table.typed_sql(2), table.params or None).fetchall()
        con.execute(f"ALTER TABLE {wide_table(entity)} RENAME TO aside")
        table = entity_table(con, entity, evidence)
        assert "wide:" not in table.source  # the pivot this time
        pivoted = con.execute(table.typed_sql(2), table.params or None).fetchall()
        con.execute(f'ALTER TABLE results.aside RENAME TO "wide:{entity}"')
        assert from_wide == pivoted
