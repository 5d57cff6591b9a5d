"""Server-rendered SVG charts: the geometry of a stacked area chart over time, drawn by templates/core/_chart.html.

SVG rendered on the server rather than a charting library: the portal runs offline and under a Content-Security-Policy
without inline script or style, pages stay readable without JavaScript, and one chart kind does not need a library.
Colours come from classes in static/css/portal.css; positions are SVG attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 26, 22
PALETTE_SIZE = 6


@dataclass(frozen=True)
class Series:
    """One stacked layer: a value per bucket (the same buckets for every series)."""

    key: str
    label: str
    values: list[int]
    tone: str = ""  # a CSS class suffix: "new" for the image being rolled out, "other" for the rest


@dataclass(frozen=True)
class Marker:
    """A moment worth a vertical line: a promotion, a rollback, a ring's ref move, a halt."""

    at: datetime
    label: str
    kind: str  # promotion, rollback, ring, halt, move (a ref moved by hand)


@dataclass(frozen=True)
class Area:
    label: str
    css: str
    polygons: list[str]
    latest: int


@dataclass(frozen=True)
class PlacedMarker:
    x: float
    label: str
    kind: str
    short: str
    text_y: float
    at: datetime


@dataclass
class StackedChart:
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    areas: list[Area] = field(default_factory=list)
    markers: list[PlacedMarker] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    description: str = ""

    @property
    def empty(self) -> bool:
        return not self.areas

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def _runs(buckets: list[datetime], step: timedelta) -> list[list[int]]:
    """Split bucket indexes into runs of consecutive buckets; a missing bucket is a gap, not a drop to zero."""
    runs: list[list[int]] = []
    for index, bucket in enumerate(buckets):
        if runs and bucket - buckets[runs[-1][-1]] == step:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _x_ticks(start: datetime, end: datetime, x_of: object) -> list[tuple[float, str]]:
    span = end - start
    local_start = timezone.localtime(start)
    if span <= timedelta(days=2):
        hours = 2 if span <= timedelta(hours=12) else 6
        step, fmt = timedelta(hours=hours), "%H:%M"
        first = local_start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        first += timedelta(hours=(hours - first.hour % hours) % hours)
    else:
        days = max(1, round(span / timedelta(days=7)))
        step, fmt = timedelta(days=days), "%b %d"
        first = local_start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ticks = []
    moment = first
    while moment <= end:
        ticks.append((x_of(moment), moment.strftime(fmt)))  # type: ignore[operator]
        moment += step
    return ticks


def stacked_area_chart(
    *,
    buckets: list[datetime],
    series: list[Series],
    markers: list[Marker],
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(hours=1),
    unit: str = "hosts",
) -> StackedChart:
    """Return the geometry of a chart where each bucket spans ``step`` and the series stack bottom to top."""
    chart = StackedChart()
    span = (end - start).total_seconds() or 1.0
    plot_width = chart.plot_right - chart.plot_left
    plot_height = chart.plot_bottom - chart.plot_top

    def x_of(moment: datetime) -> float:
        offset = min(max((moment - start).total_seconds(), 0.0), span)
        return chart.plot_left + plot_width * offset / span

    totals = [sum(s.values[i] for s in series) for i in range(len(buckets))]
    peak = max(totals, default=0)
    chart.x_ticks = _x_ticks(start, end, x_of)
    if peak:
        chart.y_ticks = [
            (chart.plot_bottom - plot_height * value / peak, str(value)) for value in sorted({0, peak // 2, peak})
        ]

        def y_of(value: float) -> float:
            return chart.plot_bottom - plot_height * value / peak

        runs = _runs(buckets, step)
        below = [0] * len(buckets)
        for position, layer in enumerate(series):
            if not any(layer.values):
                continue
            above = [below[i] + layer.values[i] for i in range(len(buckets))]
            polygons = []
            for run in runs:
                top = []
                bottom = []
                for i in run:
                    x0, x1 = x_of(buckets[i]), x_of(buckets[i] + step)
                    top += [f"{_fmt(x0)},{_fmt(y_of(above[i]))}", f"{_fmt(x1)},{_fmt(y_of(above[i]))}"]
                    bottom += [f"{_fmt(x1)},{_fmt(y_of(below[i]))}", f"{_fmt(x0)},{_fmt(y_of(below[i]))}"]
                polygons.append(" ".join(top + bottom[::-1]))
            css = f"chart-{layer.tone}" if layer.tone else f"chart-s{position % PALETTE_SIZE}"
            chart.areas.append(Area(label=layer.label, css=css, polygons=polygons, latest=layer.values[-1]))
            below = above
    shorts = {"promotion": "P", "rollback": "R", "ring": "▸", "halt": "H", "move": "M"}
    for index, marker in enumerate(sorted(markers, key=lambda m: m.at)):
        if start <= marker.at <= end:
            chart.markers.append(
                PlacedMarker(
                    x=x_of(marker.at),
                    label=marker.label,
                    kind=marker.kind,
                    short=shorts.get(marker.kind, "•"),
                    text_y=chart.plot_top - 14 + 8 * (index % 2),
                    at=marker.at,
                )
            )
    latest = ", ".join(f"{area.label}: {area.latest} {unit}" for area in chart.areas if area.latest)
    chart.description = f"{len(chart.areas)} images over time; latest hour: {latest or 'no hosts'}."
    return chart
