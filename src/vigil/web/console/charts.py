"""Small bar charts drawn on the server (inline SVG in the page; no script, no asset)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, BAR_GAP = 360, 60, 4


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    n: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    total: int


def weekly_chart(counts: Mapping[int, int], labels: Sequence[str], top: int) -> Chart:
    """One bar per label (a week): ``counts[i]`` shares in week ``i``, scaled so that
    ``top`` fills the chart's height (one scale for every chart on a page)."""
    step = WIDTH / max(len(labels), 1)
    bars = []
    for i, label in enumerate(labels):
        n = int(counts.get(i, 0))
        h = round((HEIGHT - 2) * n / max(top, 1), 1)
        bars.append(Bar(round(i * step + BAR_GAP / 2, 1), round(HEIGHT - h, 1),
                        round(step - BAR_GAP, 1), h, label, n))
    return Chart(WIDTH, HEIGHT, tuple(bars), sum(b.n for b in bars))
