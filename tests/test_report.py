"""The HTML report: self-contained, data always escaped, the charts' sizes, the lists, the packaging."""

from __future__ import annotations

import html.parser
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kpidsl import pipeline
from results_fixture import fake_scorer, write_inputs

ROOT = Path(__file__).parent.parent
HOSTILE_ID = "<script>alert(1)</script>"


def add_hostile(con) -> None:
    """A person whose id is markup, in a unit whose id is too (and u1's p2 has markup in the name)."""
    con.execute("INSERT INTO results.entities VALUES ('people', $id, 'staff', 'ok', 70, 'good', 'Good', 'good', "
                "'u1', NULL)", {"id": HOSTILE_ID})
    con.execute("INSERT INTO results.entities VALUES ('people', 'p9', 'staff', 'ok', 70, 'good', 'Good', 'good', "
                "$unit, NULL)", {"unit": "</td><td>u9"})


def _report(folder: Path, extra=add_hostile, row_limit: int | None = None, lang: str | None = None) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        write_inputs(folder)
        mp.setattr(pipeline, "_score", fake_scorer(extra))
        if row_limit is not None:
            mp.setattr("kpidsl.output.report.ROW_LIMIT", row_limit)
        report = pipeline.run_framework("fx.kpi", "data", "2025-Q3", "out",
                                        options=pipeline.OutputOptions(lang=lang))
    assert report.outcome == "ok", report.message
    return (folder / "out" / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    return _report(tmp_path_factory.mktemp("report"))


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_data_from_the_input_stays_text(page):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Trần&lt;/b&gt; Bình" in page  # a name from the data
    assert "&lt;/td&gt;&lt;td&gt;u9" in page
    names = {tag for tag, _ in _tags(page)}
    assert "script" not in names and "img" not in names and "b" not in names
    assert not [attrs for _, attrs in _tags(page) if any(k.startswith("on") for k in attrs)]


def test_the_page_is_self_contained(page):
    tags = _tags(page)
    assert not [a for _, a in tags if "src" in a or "href" in a and not a["href"].startswith("#")]
    assert not [t for t, _ in tags if t in ("link", "script", "iframe", "object", "embed")]
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    # u1: points by criterion and the rating mix; u9 (the hostile unit, no unit result) is not drawn.
    assert "<style>" in page and page.count("<svg") == 2


def test_language_and_accessibility(page):
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    svgs = re.findall(r"<svg [^>]*>\n<title id=\"([^\"]+)\">", page)
    assert svgs == ["bars-1", "mix-1"]  # every chart has a title it is labelled by
    assert 'aria-labelledby="bars-1"' in page and "<summary>The same as a table</summary>" in page


def test_summary_lists_and_quota(page):
    assert "<h1>Fixture frame</h1>" in page
    assert "Results for period 2025-Q3 (2025-07-01 to 2025-09-30)" in page
    # People: p1, p2, p3 ok, p5 error, p6 not scored, and the two hostile ones (ok).
    assert "<tr><td>People</td><td>ok</td><td class=\"num\">5</td></tr>" in page
    assert "<tr><td>People</td><td>error</td><td class=\"num\">1</td></tr>" in page
    # p3: top by score, good after the quota; the row says why, the score block by its label.
    assert ('<td>Staff</td>\n<td>ok</td><td class="num">95.80</td>\n'
            '<td>Good <span class="note">(by score: Top; Quota)</span></td>') in page
    # The quota's group and people by name where they have one (p3 has none), ids beside.
    assert ("<tr><td>Top</td><td>Good</td><td>Unit one <code>u1</code></td>\n<td class=\"num\">1</td>"
            "<td class=\"num\">2</td>\n<td>resolved by score</td>\n<td>&lt;b&gt;Trần&lt;/b&gt; Bình <code>p2</code></td>\n"
            "<td><code>p3</code></td></tr>") in page
    assert "<td>general_points is missing (missing fail)</td>" in page
    # tasks.csv: 5 rows read, t5 is outside the quarter, 4 used.
    assert ('<tr><td>tasks</td><td><code>tasks.csv</code></td><td class="num">5</td><td class="num">4</td>\n'
            '<td class="num">4</td><td class="num">0</td></tr>') in page


def test_stacked_bars_are_points_to_scale(page):
    unit = page[page.index('<section class="card"'):page.index("</section>")]
    assert "<h3 id=\"unit-1\">Unit one <span class=\"note\">(<code>u1</code>)</span></h3>" in unit
    bars = re.findall(r"<title>([^<]*): ([0-9.]+)</title>\n<text", unit)
    # Best first: p2 100.00, p3 95.80, then the hostile one (70, no items), p1 70.40 — 70.40 > 70.
    assert bars == [("&lt;b&gt;Trần&lt;/b&gt; Bình", "100.00"), ("p3", "95.80"), ("Nguyễn Văn An", "70.40"),
                    ("&lt;script&gt;alert(1)&lt;/script&gt;", "70.00")]
    # 420 px for 100 points, after a 190 px label column: p1's general 27.00 is 113.4 px, results 43.40 182.28 px.
    assert '<rect class="c0" x="190.0" y="47" width="113.4" height="16">' in unit
    assert '<rect class="c1" x="303.4" y="47" width="182.28" height="16">' in unit
    # The bonus added nothing and is not drawn; the total follows the bar.
    assert '<text x="491.68" y="59">70.40</text>' in unit


def test_rating_mix_against_the_quota(page):
    unit = page[page.index('<section class="card"'):page.index("</section>")]
    # 420 px for 4 rated people: top 1 (105 px), good 3 (315 px); p5 and p6 have no rating.
    assert '<rect class="lv0" x="0.0" y="4" width="105.0" height="22"><title>Top: 1</title></rect>' in unit
    assert '<rect class="lv1" x="105.0" y="4" width="315.0" height="22"><title>Good: 3</title></rect>' in unit
    assert '<p class="note">Quota — Top: at most 1; 2 by score; 1 moved down one level</p>' in unit


def test_closest_to_the_next_rating(page):
    part = page[page.index('<h2 id="closest">'):page.index('<h2 id="changes">')]
    assert "<h3>Towards: Top</h3>" in part
    # p1 70.40: 19.60 short of 90; Done has the most room (42 - 21 = 21 points).
    assert ('<tr><td>Nguyễn Văn An <span class="note">(<code>p1</code>)</span></td><td>Unit one</td>'
            '<td class="num">70.40</td><td class="num">19.60</td><td>Done</td><td class="num">21.00</td>'
            "<td>Good</td></tr>") in part


def test_rating_changes_say_why(page):
    part = page[page.index('<h2 id="changes">'):page.index('<h2 id="people">')]
    assert ('<tr><td>p3 <span class="note">(<code>p3</code>)</span></td><td>Top</td><td>Good</td><td>Quota</td>'
            "<td><code>quota top at most 50% of good per unit resolve by score</code> "
            '<span class="note">fx.kpi:') in part


def test_vietnamese_report(tmp_path):
    page = _report(tmp_path, lang="vi")
    assert page.startswith('<!DOCTYPE html>\n<html lang="vi">')
    assert "Kết quả kỳ 2025-Q3 (từ 01/07/2025 đến 30/09/2025)" in page
    assert '<td class="num">95,80</td>' in page and "(theo điểm: Top; Hạn mức)" in page
    assert "<h2 id=\"closest\">Gần mức xếp loại cao hơn nhất</h2>" in page


def test_long_lists_are_cut_with_a_note(tmp_path):
    page = _report(tmp_path, row_limit=2)
    assert "The first 2 of 7 rows; people.csv holds them all." in page


def test_same_results_give_the_same_page(tmp_path, page):
    assert _report(tmp_path) == page


def test_the_template_ships_in_the_wheel(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("kpidsl-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.namelist()
        assert "kpidsl/output/report/templates/report.html.j2" in shipped
        assert "kpidsl/output/report/templates/report.css" in shipped
        assert "kpidsl/locale/vi/LC_MESSAGES/kpidsl.mo" in shipped and "kpidsl/locale/en/LC_MESSAGES/kpidsl.mo" in shipped
        zf.extractall(site)
    probe = ("import os, sys; root = os.path.realpath(sys.argv[1]); "
             "sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]; "
             "import jinja2, kpidsl.output.report; "
             "env = jinja2.Environment(loader=jinja2.PackageLoader('kpidsl.output.report', 'templates')); "
             "print(env.get_template('report.html.j2').filename)")
    env = {**os.environ, "PYTHONPATH": str(site)}
    found = subprocess.run([sys.executable, "-c", probe, str(ROOT)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(site)
