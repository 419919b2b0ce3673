"""Output tables from the `results` tables: wide people/units, items, steps, quota; each format; the evidence."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest

from kpidsl.output import tables as R
from results_fixture import fill_results, program_of

PEOPLE_HEADER = ("\ufeffid,name,unit,unit_name,score_name,status,score,rating,rating_label,reason,"
                 "general.value,general.points,general.weight,general.credit,results.points,results.weight,"
                 "results.done.value,results.done.points,results.done.weight,results.done.credit,"
                 "results.quality.value,results.quality.points,results.quality.weight,results.quality.credit,"
                 "extra_work.value,extra_work.points")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    return program_of(tmp_path_factory.mktemp("fx"))


@pytest.fixture(scope="module")
def evidence(program):
    return R.framework_evidence(program)


@pytest.fixture
def con():
    con = duckdb.connect()
    fill_results(con)
    yield con
    con.close()


def _write(con, evidence, folder, formats=("csv",), **options):
    """The tables as a run writes them: the evidence first (the long tables are read back from it)."""
    folder.mkdir(parents=True, exist_ok=True)
    R.write_evidence(con, str(folder), evidence)
    return R.write_tables(con, str(folder), evidence, formats, **options)


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("value, text", [
    (Fraction(1, 4), "0.25"), (Fraction(1, 3), "1/3"), (Fraction(-3, 2), "-1.5"), (Fraction(100), "100"),
    (Fraction(1, 20), "0.05"), (Fraction(0), "0"),
])
def test_num_text_is_exact(value, text):
    assert R.num_text(value) == text
    assert Fraction(text) == value


@pytest.mark.parametrize("value, show, text", [
    (Decimal("0.800000000000"), "dec", "0.8"), (Decimal("100.000000000000"), "dec", "100"),
    (Decimal("0E-12"), "dec", "0"), (Decimal("-0.500000000000"), "dec", "-0.5"), (Decimal("70.40"), "points", "70.40"),
])
def test_decimal_text(value, show, text):
    assert R.decimal_text(value, show) == text


# ---------------------------------------------------------------- the framework's rules

def test_evidence_lists_items_in_framework_order_with_their_sources(evidence):
    staff = next(s for s in evidence["scores"] if s["name"] == "staff")
    assert [i["path"] for i in staff["items"]] == ["general", "results", "results.done", "results.quality",
                                                   "extra_work"]
    assert [i["kind"] for i in staff["items"]] == ["criterion", "group", "criterion", "criterion", "bonus"]
    general, results, done, quality, extra = staff["items"]
    assert (extra["expression"], extra["limit"], extra["line"]) == ("extra", "2", 40)
    assert general["share"] == "points 30" and done["share"] == "weight 60%"
    assert done["parent"] == "results" and done["measures"] == ["done_share"]
    assert quality["measures"] == []  # `errors` is a field, not a measure
    assert general["file"].endswith("fx.kpi") and general["line"] == 35
    assert staff["rating"] == "grades" and staff["total"] == "100"


def test_evidence_keeps_scales_as_exact_numbers(evidence):
    staff = next(s for s in evidence["scores"] if s["name"] == "staff")
    quality = staff["items"][3]["scale"]
    assert quality == {"name": "fewer", "text": "linear 0 -> 100, 10 -> 0 clamp", "kind": "linear",
                       "points": [["0", "100"], ["10", "0"]], "clamp": True, "cap": None}


def test_evidence_finds_level_thresholds(evidence):
    grades = next(r for r in evidence["ratings"] if r["name"] == "grades")
    assert [(lv["name"], lv["threshold"]) for lv in grades["levels"]] == [
        ("top", {"op": ">=", "value": "90"}), ("good", {"op": ">=", "value": "70"}), ("low", None)]
    assert grades["quotas"][0]["text"] == "quota top at most 50% of good per unit resolve by score"
    measures = {m["name"]: m for m in evidence["measures"]}
    assert measures["done_share"]["expression"] == "share(tasks where done)"


# ---------------------------------------------------------------- CSV

def test_people_csv_is_wide_with_four_columns_per_criterion(con, evidence, tmp_path):
    _write(con, evidence, tmp_path)
    lines = (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == PEOPLE_HEADER
    # No data is loaded here, so no names: the name columns are empty (tests/test_run_cli.py fills them).
    assert lines[1:] == [
        "p1,,u1,,staff,ok,70.40,good,Good,,27,27.00,0.3,90,43.40,0.7,0.5,21.00,0.6,50,2,22.40,0.4,80,0,0.00",
        "p2,,u1,,staff,ok,100.00,top,Top,,30,30.00,0.3,100,70.00,0.7,1,42.00,0.6,100,0,28.00,0.4,100,0,0.00",
        "p3,,u1,,staff,ok,95.80,good,Good,,30,30.00,0.3,100,65.80,0.7,0.9,37.80,0.6,90,0,28.00,0.4,100,0,0.00",
        ",".join(["p5", "", "u1", "", "staff", "error", "", "", "", "general_points is missing (missing fail)"]
                 + [""] * 16),
        ",".join(["p6", "", "u1", "", "", "not_scored"] + [""] * 20),
    ]


def test_csv_without_a_byte_order_mark(con, evidence, tmp_path):
    _write(con, evidence, tmp_path, bom=False)
    assert (tmp_path / "people.csv").read_bytes().startswith(b"id,name,")
    assert (tmp_path / "columns.csv").read_bytes().startswith(b"table,column,label,meaning\n")


def test_columns_sidecar_labels_every_column(con, evidence, tmp_path):
    from kpidsl.i18n import lang

    _write(con, evidence, tmp_path, lang=lang("vi"))
    rows = (tmp_path / "columns.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "table,column,label,meaning"
    assert "people,score,Điểm,\"điểm, làm tròn theo quy định của khung\"" in rows
    assert "people,results.done.points,Done (điểm),\"số điểm Done đóng góp, đã làm tròn\"" in rows
    people = (tmp_path / "people.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert [r.split(",")[1] for r in rows if r.startswith("people,")] == people


def test_units_csv_names_the_parent(con, evidence, tmp_path):
    _write(con, evidence, tmp_path)
    assert (tmp_path / "units.csv").read_text(encoding="utf-8").splitlines() == [
        "\ufeffid,name,parent,parent_name,score_name,status,score,rating,rating_label,reason,"
        "members.value,members.points,members.weight,members.credit",
        "u1,,,,unit_score,ok,88.73,good,Good,,88.733333333333,88.73,1,88.733333333333",
    ]


def test_items_steps_and_quota_csv(con, evidence, tmp_path):
    _write(con, evidence, tmp_path, long=True)
    items = (tmp_path / "items.csv").read_text(encoding="utf-8-sig").splitlines()
    assert items[0] == ("entity,id,score_name,path,parent_path,kind,label,value,value_text,credit,weight,budget,"
                        "contribution,missing_policy,scale,file,line")
    assert items[1] == "people,p1,staff,general,,criterion,General,27,,90,0.3,30,27.00,,raters,fx.kpi,35"
    assert items[3] == "people,p1,staff,results.done,results,criterion,Done,0.5,,50,0.6,42,21.00,,percent,fx.kpi,37"
    assert items[5] == "people,p1,staff,extra_work,,bonus,Extra work,0,,,,2,0.00,,,fx.kpi,40"
    assert len(items) == 1 + 3 * 5 + 1
    measures = (tmp_path / "measures.csv").read_text(encoding="utf-8-sig").splitlines()
    assert measures[0] == "entity,id,name,value,value_text,rows_total,rows_matched"
    assert measures[1] == "people,p1,done_share,0.5,,2,1"
    steps = (tmp_path / "rating_steps.csv").read_text(encoding="utf-8-sig").splitlines()
    assert steps[3:5] == ["people,p3,staff,level,,top,when score >= 90,fx.kpi,50",
                          "people,p3,staff,quota,top,good,quota top at most 50% of good per unit resolve by score,"
                          "fx.kpi,53"]
    assert (tmp_path / "quota.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "rating,level,of_level,group_key,allowed,holders,resolution,kept,moved",
        "grades,top,good,u1,1,2,score,p2,p3",
    ]


def test_long_tables_only_on_request(con, evidence, tmp_path):
    names = _write(con, evidence, tmp_path, ("csv", "parquet"))
    assert not [n for n in names if n.startswith(("items.", "measures."))]
    assert (tmp_path / "evidence" / "items.parquet").exists()  # explain reads the evidence either way


def test_wide_columns_follow_the_framework_not_the_alphabet(con):
    order = {("staff", "results.quality"): 0, ("staff", "general"): 1, ("staff", "results"): 2,
             ("staff", "results.done"): 3}
    paths = [p for p, _, _ in R.item_columns(con, "people", order)]
    assert list(dict.fromkeys(paths)) == ["results.quality", "general", "results", "results.done", "extra_work"]
    measures = [m for p, m, _ in R.item_columns(con, "people", order) if p == "results"]
    assert measures == ["points", "weight"]  # a group has no value or credit of its own


def test_text_values_come_from_value_text(con, evidence, tmp_path):
    con.execute("UPDATE results.items SET value = NULL, value_text = 'partial' WHERE id = 'p1' AND path = 'general'")
    texts = {("staff", "general")}
    table = R.entity_table(con, "people", {**evidence, "scores": [
        {**s, "items": [{**i, "scale": {"kind": "levels"}} if (s["name"], i["path"]) in texts else i
                        for i in s["items"]]} for s in evidence["scores"]]})
    rows = con.execute(table.text_sql(2), table.params).fetchall()
    assert rows[0][10] == "partial"


# ---------------------------------------------------------------- other formats

def test_json_has_exact_numbers_and_nulls(con, evidence, tmp_path):
    _write(con, evidence, tmp_path, ("json",))
    text = (tmp_path / "people.json").read_text(encoding="utf-8")
    assert '"score": 70.40' in text and '"general.credit": 90,' in text
    rows = json.loads(text, parse_float=Decimal)
    assert [r["id"] for r in rows] == ["p1", "p2", "p3", "p5", "p6"]
    assert rows[0]["results.done.value"] == Decimal("0.5") and rows[4]["score"] is None
    quota = json.loads((tmp_path / "quota.json").read_text(encoding="utf-8"))
    assert quota == [{"rating": "grades", "level": "top", "of_level": "good", "group_key": "u1", "allowed": 1,
                      "holders": 2, "resolution": "score", "kept": ["p2"], "moved": ["p3"]}]
    assert not (tmp_path / "people.csv").exists()


def test_parquet_keeps_types(con, evidence, tmp_path):
    _write(con, evidence, tmp_path, ("parquet",))
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($p))",
                             {"p": str(tmp_path / "people.parquet")}).fetchall())
    assert types["score"] == "DECIMAL(38,2)" and types["general.value"] == "DECIMAL(38,12)"
    score = con.execute("SELECT score FROM read_parquet($p) WHERE id = 'p1'",
                        {"p": str(tmp_path / "people.parquet")}).fetchall()[0][0]
    assert score == Decimal("70.40")


def test_xlsx_sheets_and_text_that_looks_like_a_formula(con, evidence, tmp_path):
    from openpyxl import load_workbook

    con.execute("INSERT INTO results.entities VALUES ('people', '=HYPERLINK(\"http://x\",\"y\")', 'staff', 'ok', "
                "70, 'good', '=1+1', 'good', 'u1', 'a\x01b')")
    _write(con, evidence, tmp_path, ("xlsx",))
    book = load_workbook(tmp_path / "results.xlsx")
    assert book.sheetnames == ["people", "units", "rating_steps", "quota", "columns"]
    sheet = book["people"]
    assert [c.value for c in sheet[1]][:4] == ["Code", "Name", "Unit", "Unit name"]  # labels
    assert [c.value for c in sheet[2]][:7] == ["id", "name", "unit", "unit_name", "score_name", "status", "score"]
    assert [c.value for c in sheet[3]][:7] == ["=HYPERLINK(\"http://x\",\"y\")", None, "u1", None, "staff", "ok", 70]
    assert sheet["A3"].data_type == "s" and sheet["I3"].data_type == "s"  # text, never a formula
    assert sheet["J3"].value == "a\ufffdb"  # a control character XML cannot hold
    assert sheet["G4"].value == 70.4 and sheet["G4"].number_format == "0.00"
    assert sheet.freeze_panes == "C3" and sheet.auto_filter.ref == "A2:Z8"


def test_xlsx_labels_formats_and_the_columns_sheet(con, evidence, tmp_path):
    from openpyxl import load_workbook

    from kpidsl.i18n import lang

    _write(con, evidence, tmp_path, ("xlsx",), lang=lang("vi"))
    book = load_workbook(tmp_path / "results.xlsx")
    people = book["people"]
    header = {c.value: i for i, c in enumerate(people[2])}
    assert people.cell(1, header["score"] + 1).value == "Điểm"
    assert people.cell(1, header["results.done.credit"] + 1).value == "Done (mức đạt)"
    assert people.cell(3, header["results.done.points"] + 1).number_format == "0.00"
    assert people.cell(3, header["results.done.weight"] + 1).value == 0.6
    assert people.column_dimensions["A"].width > 6  # widths are set
    quota = book["quota"]
    assert [c.value for c in quota[3]] == ["grades", "top", "good", "u1", 1, 2, "score", "p2", "p3"]
    columns = book["columns"]
    assert [c.value for c in columns[1]] == ["Bảng", "Cột", "Tên hiển thị", "Ý nghĩa"]
    assert [c.value for c in columns[3]] == ["people", "id", "Mã", "mã của dòng trong dữ liệu; dùng để nối các tệp"]


def test_xlsx_refuses_more_rows_than_a_sheet_holds(con, evidence, tmp_path, monkeypatch):
    from kpidsl.output import workbook

    monkeypatch.setattr(workbook, "XLSX_MAX_ROWS", 3)
    with pytest.raises(R.OutputError, match="more than a spreadsheet holds"):
        _write(con, evidence, tmp_path, ("xlsx",))


def test_unknown_format_is_refused(con, evidence, tmp_path):
    with pytest.raises(R.OutputError, match="unknown output format 'xml'"):
        _write(con, evidence, tmp_path, ("xml",))


def test_same_rows_give_the_same_bytes(evidence, tmp_path):
    written = []
    for name in ("a", "b"):
        con = duckdb.connect()
        fill_results(con)
        files = _write(con, evidence, tmp_path / name, R.FORMATS, long=True)
        files += R.write_evidence(con, str(tmp_path / name), evidence)  # its names; written over the same files
        written.append({f: (tmp_path / name / f).read_bytes() for f in files})
        con.close()
    # 6 tables in csv, parquet and json, the workbook, columns.csv, and the evidence.
    assert written[0].keys() == written[1].keys() and len(written[0]) == 6 * 3 + 1 + 1 + 6
    for name, data in written[0].items():
        assert data == written[1][name], name


# ---------------------------------------------------------------- evidence

def test_evidence_files_keep_every_result_typed(con, evidence, tmp_path):
    names = R.write_evidence(con, str(tmp_path), evidence)
    assert names == ["evidence/entities.parquet", "evidence/items.parquet", "evidence/measures.parquet",
                     "evidence/rating_steps.parquet", "evidence/quota.parquet", "evidence/framework.json"]
    rows = con.execute("SELECT id, score FROM read_parquet($p) ORDER BY id",
                       {"p": str(tmp_path / "evidence" / "entities.parquet")}).fetchall()
    assert rows[0] == ("p1", Decimal("70.400000000000"))
    kept = con.execute("SELECT kept FROM read_parquet($p)", {"p": str(tmp_path / "evidence" / "quota.parquet")})
    assert kept.fetchall() == [(["p2"],)]
    saved = json.loads((tmp_path / "evidence" / "framework.json").read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(evidence))


def test_optional_periods_table_is_written_when_present(con, evidence, tmp_path):
    R.create_result_tables(con, optional=["periods"])
    fill_results(con)
    con.execute("INSERT INTO results.periods VALUES ('2025-Q1', 'people', 'p1', 'staff', 'ok', 80, 'good', NULL)")
    names = _write(con, evidence, tmp_path)
    assert "periods.csv" in names
    assert (tmp_path / "periods.csv").read_text(encoding="utf-8").splitlines()[1] == \
        "people,p1,2025-Q1,staff,ok,80.00,good,"
