"""The report's chart geometry, worked by hand: 420 px for 100 points after a 190 px label column."""

from __future__ import annotations

from decimal import Decimal

from kpidsl.i18n import lang
from kpidsl.output.report import charts

EN, VI = lang("en"), lang("vi")


def test_stacked_bars_put_segments_end_to_end_and_leave_out_what_adds_nothing():
    series = charts.series([("general", "General"), ("results", "Results"), ("extra", "Extra"), ("fine", "Fine")])
    bars = charts.stacked_bars([("Nguyễn Văn An", [("general", Decimal("27.00")), ("results", Decimal("43.40")),
                                                   ("extra", Decimal("0.00")), ("fine", Decimal("-2.00"))],
                                 Decimal("68.40"))], series, 2, VI)
    [bar] = bars.bars
    # 27 points = 113.4 px from x = 190; 43.40 points = 182.28 px after it; the zero bonus and the penalty
    # are not drawn (the total says what they did).
    assert [(s.x, s.width, s.css, s.value) for s in bar.segments] == [(190.0, 113.4, "c0", "27,00"),
                                                                     (303.4, 182.28, "c1", "43,40")]
    assert bar.end == 485.68 and bar.total == "68,40"
    assert bars.width == 670 and bars.height == 22 + 26
    assert bars.ticks[-1] == (610.0, "100")


def test_a_narrow_segment_carries_no_text_and_a_long_name_is_shortened():
    series = charts.series([("a", "A")])
    bars = charts.stacked_bars([("Nguyễn Thị Minh Khai Phương Thảo Trang", [("a", Decimal("5"))], Decimal("5"))],
                               series, 2, EN)
    [bar] = bars.bars
    assert bar.segments[0].width == 21.0 and not bar.segments[0].show_value  # < 30 px: the title says it
    assert bar.label == "Nguyễn Thị Minh Khai Phươ…" and bar.full.endswith("Trang")


def test_rating_mix_is_best_first_and_says_what_the_quota_did():
    levels = {"excellent": (0, "Xuất sắc"), "good": (1, "Tốt"), "completed": (2, "Hoàn thành")}
    mix = charts.rating_mix({"good": 3, "excellent": 1}, levels, [("excellent", 0, 1, "score")], EN)
    assert [(p.name, p.x, p.width, p.css) for p in mix.parts] == [("excellent", 0.0, 105.0, "lv0"),
                                                                 ("good", 105.0, 315.0, "lv1")]
    assert mix.quotas[0].text == "Xuất sắc: at most 0; 1 by score; 1 moved down one level"
    assert not mix.quotas[0].breach  # resolved by score: nothing left open
    reported = charts.rating_mix({"excellent": 2}, levels, [("excellent", 1, 2, "report")], EN)
    assert reported.quotas[0].breach and reported.quotas[0].text.endswith("reported for a decision")


def test_heat_classes_and_the_heatmap_grid():
    assert [charts.heat_class(v) for v in (0, 49.9, 50, 70, 80, 90, 100)] == ["h0", "h0", "h1", "h2", "h3", "h4", "h4"]
    grid = charts.heatmap([("a", "A"), ("b", "B")], [("u1", "Phòng 1", "a", Decimal("91.5"), 3),
                                                     ("u2", "Phòng 2", "b", Decimal("42"), 1)], VI)
    assert [(u, name, [c and (c.value, c.css) for c in cells]) for u, name, cells in grid.rows] == [
        ("u1", "Phòng 1", [("92", "h4"), None]), ("u2", "Phòng 2", [None, ("42", "h0")])]


def test_trend_lines_place_periods_evenly_and_scores_on_0_to_100():
    chart = charts.line_chart([("Phòng 1", "2026-Q1", Decimal(100)), ("Phòng 1", "2026-Q2", Decimal(50))], EN)
    # x from 44 to 640 - 150 = 490; y from 12 (100) to 230 (0).
    assert chart.periods == [(44.0, "2026-Q1"), (490.0, "2026-Q2")]
    assert chart.lines[0].points == "44.0,12.0 490.0,121.0"
    assert chart.grid[0] == (230.0, "0") and chart.grid[-1] == (12.0, "100")
