"""Golden outputs of the bundled quarter (examples/quarter-2025-Q3, central frame) in both languages: the run's
summary line, explanations, the report's structure, an appraisal sheet's structure, the workbook's cells and
formats read back with openpyxl, and the column labels. tests/cases/outputs/NOTES.md says what they pin and
works the numbers of the person they follow by hand."""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES, compare_golden
from kpidsl import cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = CASES / "outputs" / "central-quarter"
LANGS = ("vi", "en")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """The quarter scored in each language (relative paths, as a user would type them)."""
    base = tmp_path_factory.mktemp("golden")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # the framework named as in the docs: rules' `file` columns hold the path as given
        for code in LANGS:
            folder = base / f"run-{code}"
            result = CliRunner().invoke(cli.main, ["run", "frameworks/central/central.kpi", "--data",
                                                   "examples/quarter-2025-Q3", "--period", "2025-Q3", "--out",
                                                   str(folder), "--lang", code, "--format", "csv,xlsx"])
            assert result.exit_code == 0, result.output
            sheets = CliRunner().invoke(cli.main, ["sheets", str(folder), "--id", "p19", "--format", "html",
                                                   "--lang", code])
            assert sheets.exit_code == 0, sheets.output
            out[code] = (folder, result.stdout.replace(str(base) + "/", ""))
    return out


class _Outline(html.parser.HTMLParser):
    """The outline of a page: its language, headings, table header rows and row counts, chart titles,
    legends and captions — the structure a reader finds, without the styling."""

    KEEP = ("h1", "h2", "h3", "h4", "title", "caption", "summary", "figcaption", "li", "footer")

    VOID = ("br", "meta", "img", "hr", "input", "link", "rect", "line", "circle", "polyline")

    def __init__(self, all_rows: bool = False) -> None:
        super().__init__()
        self.all_rows = all_rows
        self.lines: list[str] = []
        self.stack: list[str] = []
        self.texts: list[str] = []
        self.row: list[str] | None = None
        self.rows = 0
        self.in_head = False

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "br" and self.texts:
            self.texts[-1] += " "
        if tag in self.VOID:
            return
        if tag == "html":
            self.lines.append(f"html lang={attrs.get('lang')}")
        if tag == "svg":
            self.lines.append("svg role=" + (attrs.get("role") or "") + " labelledby=" + (attrs.get("aria-labelledby") or ""))
        if tag == "table":
            self.rows = 0
            self.lines.append("table")
        if tag == "tr":
            self.row = []
            self.in_head = False
        if tag == "th" and self.row is not None:
            self.in_head = True
        self.stack.append(f"{tag}.{attrs.get('class') or ''}")
        self.texts.append("")

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        inner = self.texts.pop() if self.texts else ""
        if self.texts:
            self.texts[-1] += inner  # a child's text is part of its parent's
        text = " ".join(inner.split())
        if tag in self.KEEP and text and not (tag == "title" and "svg" in " ".join(self.stack[:-1])):
            self.lines.append(f"  {tag}: {text}")
        if tag == "title" and "svg" in " ".join(self.stack[:-1]) and self.stack[-2].startswith("svg"):
            self.lines.append(f"  svg title: {text}")
        if tag in ("td", "th") and self.row is not None:
            self.row.append(text)
        if tag == "tr" and self.row is not None:
            if self.in_head and self.rows == 0:
                self.lines.append("  header: " + " | ".join(self.row))
            elif self.all_rows:
                self.lines.append("  row: " + " | ".join(self.row))
            self.rows += 1
            self.row = None
        if tag == "table":
            self.lines.append(f"  rows: {self.rows}")
        while self.stack and not self.stack.pop().startswith(tag + "."):
            pass

    def handle_data(self, data):
        if self.texts:
            self.texts[-1] += data


def outline(page: str, all_rows: bool = False) -> str:
    parser = _Outline(all_rows)
    parser.feed(page)
    return "\n".join(parser.lines) + "\n"


def workbook_outline(path: Path) -> str:
    """Each sheet: size, frozen panes, filter, the two header rows, the first data rows with their number
    formats, and the first columns' widths."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    lines = []
    for sheet in book.worksheets:
        lines.append(f"sheet {sheet.title}: {sheet.max_row} rows x {sheet.max_column} columns, "
                     f"frozen {sheet.freeze_panes}, filter {sheet.auto_filter.ref}")
        for r in range(1, min(sheet.max_row, 5) + 1):
            cells = [sheet.cell(r, c) for c in range(1, min(sheet.max_column, 12) + 1)]
            shown = [("" if c.value is None else repr(c.value)) + (f" [{c.number_format}]"
                                                                   if c.number_format != "General" else "")
                     for c in cells]
            lines.append(f"  row {r}: " + " | ".join(shown))
        widths = [sheet.column_dimensions[letter].width for letter in "ABC"]
        lines.append(f"  widths A-C: {widths}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("code", LANGS)
def test_summary_line(runs, code):
    compare_golden(runs[code][1], GOLDEN / code / "summary.txt")


@pytest.mark.parametrize("code", LANGS)
@pytest.mark.parametrize("who", ["p19", "u2"])
def test_explanation(runs, code, who):
    folder = runs[code][0]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder.parent)
        result = CliRunner().invoke(cli.main, ["explain", folder.name, "--id", who, "--lang", code])
    assert result.exit_code == 0, result.output
    compare_golden(result.stdout, GOLDEN / code / f"explain-{who}.txt")


@pytest.mark.parametrize("code", LANGS)
def test_report_structure(runs, code):
    compare_golden(outline((runs[code][0] / "report.html").read_text(encoding="utf-8")),
                   GOLDEN / code / "report.outline.txt")


@pytest.mark.parametrize("code", LANGS)
def test_sheet_structure(runs, code):
    compare_golden(outline((runs[code][0] / "sheets" / "p19.html").read_text(encoding="utf-8"), all_rows=True),
                   GOLDEN / code / "sheet-p19.outline.txt")


@pytest.mark.parametrize("code", LANGS)
def test_workbook_cells_and_formats(runs, code):
    compare_golden(workbook_outline(runs[code][0] / "results.xlsx"), GOLDEN / code / "workbook.txt")


@pytest.mark.parametrize("code", LANGS)
def test_column_labels(runs, code):
    compare_golden((runs[code][0] / "columns.csv").read_text(encoding="utf-8-sig"), GOLDEN / code / "columns.csv")


def test_the_tables_do_not_depend_on_the_language(runs):
    for table in ("people.csv", "units.csv", "rating_steps.csv", "quota.csv"):
        assert (runs["vi"][0] / table).read_bytes() == (runs["en"][0] / table).read_bytes(), table
