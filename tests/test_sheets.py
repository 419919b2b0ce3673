"""`kpidsl sheets`: the appraisal sheets of a run, one page per person and unit, HTML and PDF, from the evidence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli, pipeline
from kpidsl.output.sheets import file_stem
from results_fixture import fake_scorer, write_inputs


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sheets")

    def hostile(con):
        con.execute("INSERT INTO results.entities VALUES ('people', '../../x<b>', 'staff', 'ok', 70, 'good', "
                    "'Good', 'good', 'u1', NULL)")

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        write_inputs(folder)
        mp.setattr(pipeline, "_score", fake_scorer(hostile))
        assert pipeline.run_framework("fx.kpi", "data", "2025-Q3", "out").outcome == "ok"
    return folder / "out"


def sheets(*args: str):
    return CliRunner().invoke(cli.main, ["sheets", *args])


def test_a_unit_in_one_file_one_page_per_sheet(run):
    result = sheets(str(run), "--unit", "u1", "--format", "html")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{run / 'sheets' / 'u1.html'}\n"
    page = (run / "sheets" / "u1.html").read_text(encoding="utf-8")
    # u1's own sheet, then its members by id: the hostile id, p1, p2, p3, p5, p6.
    assert page.count('<article class="sheet"') == 7
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "page-break-after: always" in page and "@page { size: A4" in page
    assert "&lt;b&gt;" in page and "<b>" not in page.replace("<b>Trần", "")  # the id and names stay text
    p1 = page[page.index("Nguyễn Văn An"):]
    p1 = p1[:p1.index("</article>")]
    # p1: general 27.00 of 30; results 43.40 of 70 (done 21.00 of 42, quality 22.40 of 28); the bonus 0.00.
    rows = re.findall(r"<tr class=\"(\w+)\"><td class=\"no\">([^<]*)</td><td[^>]*>([^<]*)</td>"
                      r"<td class=\"num\">([^<]*)</td><td class=\"num\">([^<]*)</td><td class=\"num\">([^<]*)</td>"
                      r"<td class=\"num\">([^<]*)</td></tr>", p1)
    assert rows == [("criterion", "1", "General", "27", "90", "30.00", "27.00"),
                    ("criterion", "1", "Done", "0.5", "50", "42.00", "21.00"),
                    ("criterion", "2", "Quality", "2", "80", "28.00", "22.40"),
                    ("bonus", "1", "Extra work", "0", "", "", "0.00")]
    assert "<tr class=\"part\"><th colspan=\"4\">I. General criteria</th>" in p1
    assert "<tr class=\"part\"><th colspan=\"4\">II. Results</th><th class=\"num\">70.00</th>" in p1
    assert '<th class="num total">70.40</th>' in p1
    assert "<tr><th>Proposed rating</th><td><strong>Good</strong></td></tr>" in p1
    assert "THE PERSON APPRAISED" in p1 and "(Signature and full name)" in p1


def test_a_changed_rating_gives_its_reason(run):
    assert sheets(str(run), "--id", "p3", "--format", "html", "--lang", "vi").exit_code == 0
    page = (run / "sheets" / "p3.html").read_text(encoding="utf-8")
    assert "<tr><th>Xếp loại theo điểm</th><td>Top</td></tr>" in page
    assert "<tr><th>Đề xuất xếp loại</th><td><strong>Good</strong></td></tr>" in page
    assert "<li>Hạn mức: Top → <strong>Good</strong>" in page
    assert "PHIẾU ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG" in page and "(Ký, ghi rõ họ tên)" in page


def test_an_id_never_names_a_path(run):
    assert file_stem("../../x<b>") == "_.._x_b_" and file_stem("..") == "_" and file_stem("p1") == "p1"
    result = sheets(str(run), "--id", "../../x<b>", "--format", "html")
    assert result.exit_code == 0, result.output
    assert (run / "sheets" / "_.._x_b_.html").is_file()


def test_pdf_is_made_and_the_same_for_the_same_run(run, tmp_path):
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")
    first = sheets(str(run), "--id", "p1", "--to", str(tmp_path / "a"))
    if first.exit_code == 2 and "cannot make PDF files here" in first.stderr:
        pytest.skip("WeasyPrint cannot load the Pango library here")
    assert first.exit_code == 0, first.output
    assert sheets(str(run), "--id", "p1", "--to", str(tmp_path / "b")).exit_code == 0
    pdf = (tmp_path / "a" / "p1.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf == (tmp_path / "b" / "p1.pdf").read_bytes()
    assert (tmp_path / "a" / "p1.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["--id", "nobody"], "no result for id 'nobody'"),
    (["--unit", "u9"], "no unit 'u9'"),
])
def test_unknown_ids_are_refused(run, args, message):
    result = sheets(str(run), *args, "--format", "html")
    assert result.exit_code == 2 and message in result.stderr


def test_usage_errors(run, tmp_path):
    assert sheets(str(run), "--id", "p1", "--unit", "u1").exit_code == 2
    assert sheets(str(run), "--format", "docx").exit_code == 2
    result = sheets(str(tmp_path))
    assert result.exit_code == 2 and "not the output folder of `kpidsl run`" in result.stderr
