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
HOSTILE_LABEL = '<img src=x onerror="alert(2)">'


def add_hostile(con) -> None:
    """A person whose id and rating label are markup, in a unit whose id is too."""
    con.execute("INSERT INTO results.entities VALUES ('people', $id, 'staff', 'ok', 70, 'good', $label, 'good', "
                "$unit, NULL)", {"id": HOSTILE_ID, "label": HOSTILE_LABEL, "unit": "</td><td>u9"})


def _report(folder: Path, extra=add_hostile, row_limit: int | None = None) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        write_inputs(folder)
        mp.setattr(pipeline, "_score", fake_scorer(extra))
        if row_limit is not None:
            mp.setattr("kpidsl.output.report.ROW_LIMIT", row_limit)
        report = pipeline.run_framework("fx.kpi", "data", "2025-Q3", "out")
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
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
    assert "&lt;/td&gt;&lt;td&gt;u9" in page
    names = {tag for tag, _ in _tags(page)}
    assert "script" not in names and "img" not in names
    assert not [attrs for _, attrs in _tags(page) if any(k.startswith("on") for k in attrs)]


def test_the_page_is_self_contained(page):
    tags = _tags(page)
    assert not [a for _, a in tags if "src" in a or "href" in a and not a["href"].startswith("#")]
    assert not [t for t, _ in tags if t in ("link", "script", "iframe", "object", "embed")]
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert "<style>" in page and page.count("<svg") == 4


def test_summary_lists_and_quota(page):
    assert "<h1>Fixture frame</h1>" in page
    assert "Results for period <strong>2025-Q3</strong> (2025-07-01 to 2025-09-30)" in page
    # People: p1, p2, p3 ok, p5 error, p6 not scored, and the hostile one (ok): 6 in all.
    assert '<tr><td>People</td><td class="num">6</td>\n<td>error: 1, not_scored: 1, ok: 4</td></tr>' in page
    assert '<td class="num">95.80</td>\n<td>Good <span class="note">(by score: top)</span></td>' in page
    assert ("<td>grades</td><td>top</td><td>good</td><td><code>u1</code></td>\n<td class=\"num\">1</td>"
            "<td class=\"num\">2</td>\n<td>resolved by score</td>\n<td><code>p2</code></td>\n"
            "<td><code>p3</code></td></tr>") in page
    assert "<td>general_points is missing (missing fail)</td>" in page
    # tasks.csv: 5 rows read, t5 is outside the quarter, 4 used.
    assert ('<tr><td>tasks</td><td><code>tasks.csv</code></td><td class="num">5</td><td class="num">4</td>\n'
            '<td class="num">4</td><td class="num">0</td></tr>') in page


def test_rating_chart_bars_are_proportional(page):
    people = page[page.index('<h2 id="people">'):page.index('<h2 id="quota">')]
    bars = re.findall(r'<text x="0" y="\d+">([^<]*)</text>\n<rect class="bar" x="340" y="\d+" width="(\d+)"', people)
    # Levels best first, then the unrated: top 1 (p2), good 3 (p1, p3, the hostile one), not rated 2 (p5, p6).
    assert bars == [("Top (top)", "120"), ("Good (good)", "360"), ("not rated", "240")]


def test_score_histogram_bins_by_share_of_the_total(page):
    people = page[page.index('<h2 id="people">'):page.index('<h2 id="quota">')]
    heights = re.findall(r'<rect class="bar" x="\d+" y="\d+" width="50" height="(\d+)">', people)
    # 70.40 and 70 fall in 70–80%, 100 and 95.80 in 90–100%: two bins of two, drawn full height.
    assert heights == ["0"] * 7 + ["120", "0", "120"]


def test_long_lists_are_cut_with_a_note(tmp_path):
    page = _report(tmp_path, row_limit=2)
    assert "The first 2 of 6 rows; people.csv holds them all." in page


def test_same_results_give_the_same_page(tmp_path, page):
    assert _report(tmp_path) == page


def test_the_template_ships_in_the_wheel(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("kpidsl-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        assert "kpidsl/output/report/templates/report.html.j2" in zf.namelist()
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
