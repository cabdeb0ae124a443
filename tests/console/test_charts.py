"""The console's weekly bar charts: one bar a week, one scale for every chart."""

from __future__ import annotations

from vigil.web.console.charts import BAR_GAP, HEIGHT, WIDTH, weekly_chart


def test_bars_are_scaled_to_the_top_and_placed_by_week() -> None:
    chart = weekly_chart({0: 10, 2: 5}, ["w1", "w2", "w3", "w4"], top=10)
    assert (chart.width, chart.height, chart.total) == (WIDTH, HEIGHT, 15)
    assert [b.n for b in chart.bars] == [10, 0, 5, 0]
    assert [b.label for b in chart.bars] == ["w1", "w2", "w3", "w4"]
    full, empty, half = chart.bars[0], chart.bars[1], chart.bars[2]
    assert full.h == HEIGHT - 2 and full.y == 2
    assert empty.h == 0 and empty.y == HEIGHT
    assert half.h == (HEIGHT - 2) / 2
    step = WIDTH / 4
    assert [b.x for b in chart.bars] == [round(i * step + BAR_GAP / 2, 1) for i in range(4)]
    assert all(b.w == step - BAR_GAP for b in chart.bars)


def test_one_scale_for_charts_drawn_together() -> None:
    a = weekly_chart({0: 4}, ["w"], top=8)
    b = weekly_chart({0: 8}, ["w"], top=8)
    assert a.bars[0].h * 2 == b.bars[0].h


def test_empty_charts_draw_nothing_tall() -> None:
    assert weekly_chart({}, [], top=0).bars == ()
    assert weekly_chart({}, ["w"], top=0).bars[0].h == 0
