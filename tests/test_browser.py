"""The report and the appraisal sheets in a real browser (headless Chromium): at desktop and A4 width nothing
scrolls sideways, no chart label overlaps another, and the Vietnamese text arrives intact; screenshots of
each are taken (and, with KPIDSL_SCREENSHOTS=DIR, kept in DIR: docs/img holds the ones docs/outputs.md shows).

Skipped, with the reason, only when no Chromium is installed (`apt-get install chromium`; .ci/run does it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpidsl import cli

ROOT = Path(__file__).resolve().parent.parent
CENTRAL = ROOT / "frameworks" / "central" / "central.kpi"
QUARTER = ROOT / "examples" / "quarter-2025-Q3"
BROWSER = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)")

DESKTOP, A4 = 1280, 794  # CSS pixels: a laptop screen, and an A4 page's width at 96 dpi
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio"]

# Measures the page as laid out and writes the findings into it, for --dump-dom to read back.
PROBE = """<script>
(function () {
  function box(e) { var r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; }
  function meet(a, b) { return Math.min(a.r, b.r) - Math.max(a.l, b.l) > 1 && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 1; }
  var found = {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, overlaps: [],
               cut: [], wide: [], text: document.body.innerText, lang: document.documentElement.lang,
               fonts: document.fonts.check("12px sans-serif", "ữượđ")};
  document.querySelectorAll("svg").forEach(function (svg, i) {
    var texts = Array.prototype.slice.call(svg.querySelectorAll("text")).filter(function (t) {
      return t.textContent.trim() !== ""; });
    var boxes = texts.map(box), frame = box(svg);
    for (var a = 0; a < boxes.length; a++) {
      if (boxes[a].l < frame.l - 1 || boxes[a].r > frame.r + 1) found.cut.push(texts[a].textContent);
      for (var b = a + 1; b < boxes.length; b++) {
        if (meet(boxes[a], boxes[b])) found.overlaps.push([texts[a].textContent, texts[b].textContent]);
      }
    }
    if (frame.r > window.innerWidth + 1) found.wide.push("svg " + i);
  });
  document.querySelectorAll("table, .card, .sheet, pre").forEach(function (e, i) {
    if (box(e).r > document.documentElement.clientWidth + 1) found.wide.push(e.tagName + " " + i + " " + e.className);
  });
  var out = document.createElement("pre");
  out.id = "kpidsl-probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
})();
</script>"""


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LANG": "C.UTF-8"})


def measure(page: Path, width: int, profile: Path) -> dict:
    probed = page.with_name(page.stem + f".probe{width}.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    done = _browser(f"--window-size={width},900", "--virtual-time-budget=3000", "--dump-dom", probed.as_uri(),
                    profile=profile)
    found = re.search(r'<pre id="kpidsl-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the browser gave no measurements: {done.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, width: int, height: int, target: Path, profile: Path, *more: str) -> Path:
    done = _browser(f"--window-size={width},{height}", f"--screenshot={target}", *more, page.as_uri(),
                    profile=profile)
    assert target.is_file() and target.stat().st_size > 10_000, done.stderr[-2000:]
    return target


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """The bundled quarter scored with the central frame: the report in both languages and a unit's sheets."""
    base = tmp_path_factory.mktemp("browser")
    runner = CliRunner()
    out = {}
    for code in ("vi", "en"):
        folder = base / f"run-{code}"
        result = runner.invoke(cli.main, ["run", str(CENTRAL), "--data", str(QUARTER), "--period", "2025-Q3",
                                          "--out", str(folder), "--lang", code])
        assert result.exit_code == 0, result.output
        out[f"report-{code}"] = folder / "report.html"
    result = runner.invoke(cli.main, ["sheets", str(base / "run-vi"), "--unit", "u2", "--format", "html"])
    assert result.exit_code == 0, result.output
    out["sheets-vi"] = base / "run-vi" / "sheets" / "u2.html"
    return out


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")  # a fresh profile: nothing of the user's


EXPECTED_TEXT = {
    "report-vi": ["Khung KPI của cơ quan", "Gần mức xếp loại cao hơn nhất", "Hoàn thành xuất sắc nhiệm vụ",
                  "Tiêu chí theo đơn vị", "Nguyễn Văn An", "Xây dựng đoàn kết nội bộ (e)"],
    "report-en": ["Closest to the next rating", "Criteria by unit", "Hoàn thành tốt nhiệm vụ", "Nguyễn Văn An"],
    "sheets-vi": ["PHIẾU ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                  "Đề xuất xếp loại", "(Ký, ghi rõ họ tên)", "Năng lực tổ chức, điều hành (đ)"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TEXT))
@pytest.mark.parametrize("width", [DESKTOP, A4])
def test_layout_holds_at_desktop_and_a4_width(pages, profile, name, width):
    found = measure(pages[name], width, profile)
    assert found["scrollWidth"] <= found["width"], f"the page scrolls sideways: {found['scrollWidth']} px"
    assert found["wide"] == [], f"wider than the page: {found['wide']}"
    assert found["overlaps"] == [], f"chart labels overlap: {found['overlaps'][:5]}"
    assert found["cut"] == [], f"chart labels cut off: {found['cut'][:5]}"
    assert found["lang"] == name.rsplit("-", 1)[1]
    for text in EXPECTED_TEXT[name]:
        assert text in found["text"], text
    assert "\ufffd" not in found["text"] and found["fonts"]


def test_screenshots(pages, profile, tmp_path):
    """Desktop and A4 screenshots of each page, the report in dark mode, and the report printed to PDF."""
    keep = os.environ.get("KPIDSL_SCREENSHOTS")
    target = Path(keep) if keep else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    shots = [screenshot(pages["report-vi"], DESKTOP, 2200, target / "report-vi-desktop.png", profile),
             screenshot(pages["report-vi"], A4, 1600, target / "report-vi-a4.png", profile),
             screenshot(pages["report-en"], DESKTOP, 1400, target / "report-en-desktop.png", profile),
             screenshot(pages["report-vi"], DESKTOP, 1400, target / "report-vi-dark.png", profile,
                        "--force-dark-mode", "--blink-settings=preferredColorScheme=0"),
             screenshot(pages["sheets-vi"], A4, 1200, target / "sheet-vi-a4.png", profile)]
    assert all(p.stat().st_size > 10_000 for p in shots)
    pdf = tmp_path / "report.pdf"
    done = _browser("--no-pdf-header-footer", f"--print-to-pdf={pdf}", pages["report-vi"].as_uri(), profile=profile)
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF"), done.stderr[-2000:]


def test_the_probe_finds_breakage(profile, tmp_path):
    """The checks above can fail: overlapping chart labels, a label outside its chart, a table wider than
    the page."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html lang="vi"><body><svg width="200" height="40"><text x="10" y="20">Tiêu chí chung</text>'
        '<text x="14" y="22">Khối lượng</text><text x="190" y="30">Tiến độ (c)</text></svg>'
        '<table><tr><td style="white-space: nowrap">' + "Hoàn thành xuất sắc nhiệm vụ " * 12 + "</td></tr></table>"
        "</body></html>", encoding="utf-8")
    found = measure(page, A4, profile)
    assert found["overlaps"] == [["Tiêu chí chung", "Khối lượng"]]
    assert found["cut"] == ["Tiến độ (c)"]
    assert found["wide"] and found["scrollWidth"] > found["width"]
