"""`kpidsl template`: empty data files per input, with labels, drop-downs and instructions; and a run reads a
file headed by the fields' labels as it reads one headed by their names."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from kpidsl import cli

ROOT = Path(__file__).resolve().parent.parent
CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"
QUARTER = ROOT / "examples" / "quarter-2025-Q3"


def _template(tmp_path: Path, fmt: str, *more: str) -> list[str]:
    result = CliRunner().invoke(cli.main, ["template", str(CENTRAL), "--out", str(tmp_path / fmt), "--format", fmt,
                                           *more])
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_csv_templates_are_headed_by_the_labels(tmp_path):
    written = _template(tmp_path, "csv")
    assert [Path(p).name for p in written] == ["units.csv", "people.csv", "tasks.csv", "unit_reports.csv",
                                               "instructions.csv"]
    header = (tmp_path / "csv" / "people.csv").read_text(encoding="utf-8-sig").splitlines()
    assert header == ["person_id,Họ và tên,Đơn vị công tác,Vị trí,Điểm tiêu chí chung (người đánh giá),"
                      "Bị xử lý kỷ luật trong kỳ,\"Năng lực tổ chức, điều hành (lãnh đạo)\","
                      "Xây dựng đoàn kết nội bộ (lãnh đạo)"]
    rows = list(csv.reader((tmp_path / "csv" / "instructions.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["Tệp", "Cột", "Trường", "Kiểu", "Bắt buộc", "Giá trị cho phép", "Mặc định", "Ghi chú"]
    assert ["people.csv", "Vị trí", "role", "một trong các giá trị được liệt kê", "có", "staff, deputy, head", "",
            ""] in rows
    assert ["tasks.csv", "Hệ số quy đổi", "coefficient", "số, ví dụ 12 hoặc 0.5 hoặc 25% (dấu chấm thập phân)",
            "không", "> 0", "1", ""] in rows


def test_xlsx_templates_have_drop_downs_bounds_and_instructions(tmp_path):
    from openpyxl import load_workbook

    _template(tmp_path, "xlsx", "--lang", "en")
    book = load_workbook(tmp_path / "xlsx" / "people.xlsx")
    assert book.sheetnames == ["Cán bộ, công chức", "Instructions"]
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["person_id", "Họ và tên", "Đơn vị công tác", "Vị trí"]
    assert sheet["D1"].comment.text.startswith("role: one of the listed values (staff, deputy, head)")
    checks = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert checks["D2:D5001"].type == "list" and checks["D2:D5001"].formula1 == '"staff,deputy,head"'
    assert checks["E2:E5001"].type == "decimal" and checks["E2:E5001"].operator in (None, "between")  # the default
    assert (checks["E2:E5001"].formula1, checks["E2:E5001"].formula2) == ("0", "30")
    assert checks["F2:F5001"].formula1 == '"true,false"'
    guide = book["Instructions"]
    assert [c.value for c in guide[3]] == ["Column", "Field", "Type", "Required", "Default", "Allowed values", "Note"]
    assert guide["A1"].value.startswith("Fill one row per Cán bộ, công chức")


def test_a_run_reads_files_headed_by_labels(tmp_path, monkeypatch):
    """The bundled quarter re-headed with the fields' labels (as a filled template) scores the same."""
    monkeypatch.chdir(tmp_path)
    _template(tmp_path, "csv")
    relabelled = tmp_path / "relabelled"
    relabelled.mkdir()
    for source in sorted(QUARTER.glob("*.csv")):
        labels = next(csv.reader([(tmp_path / "csv" / source.name).read_text(encoding="utf-8-sig")]))
        rows = list(csv.reader(source.read_text(encoding="utf-8").splitlines()))
        names = rows[0]
        # The template's columns are the input's fields in order; the example has the same columns.
        assert len(labels) == len(names)
        with open(relabelled / source.name, "w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([labels, *rows[1:]])
    runner = CliRunner()
    for data, out in ((QUARTER, "by-name"), (relabelled, "by-label")):
        result = runner.invoke(cli.main, ["run", str(CENTRAL), "--data", str(data), "--period", "2025-Q3",
                                          "--out", out, "--format", "csv"])
        assert result.exit_code == 0, result.output
    for table in ("people.csv", "units.csv", "rating_steps.csv", "quota.csv"):
        assert (tmp_path / "by-name" / table).read_bytes() == (tmp_path / "by-label" / table).read_bytes(), table


def test_a_framework_with_errors_writes_no_template(tmp_path):
    bad = tmp_path / "bad.kpi"
    bad.write_text('framework bad "Bad"\ninput people key id { id: text }\npeople from nowhere member of x\n',
                   encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["template", str(bad), "--out", str(tmp_path / "t")])
    assert result.exit_code == 1
    assert "no template was written" in result.stderr and not (tmp_path / "t").exists()


def test_labels_that_a_sheet_name_cannot_hold(tmp_path):
    from openpyxl import load_workbook

    fw = tmp_path / "fx.kpi"
    fw.write_text('framework fx "Fx"\n  period quarter\n'
                  'input people "Instructions" key id { id: text  unit: ref units }\n'
                  'input units "Đơn vị: [cấp]/phòng?*" key id { id: text }\n'
                  "units from units\npeople from people member of unit\n", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["template", str(fw), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert load_workbook(tmp_path / "t" / "people.xlsx").sheetnames == ["Instructions (1)", "Instructions"]
    assert load_workbook(tmp_path / "t" / "units.xlsx").sheetnames[0] == "Đơn vị_ _cấp__phòng__"
