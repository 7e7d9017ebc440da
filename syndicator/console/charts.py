"""Charts drawn as inline SVG on the server: no script, no external asset.

Two shapes over a time axis: stacked bars (deliveries per minute, polls) and
lines with points (latency percentiles). Every text is escaped, every chart
has ``role="img"`` with a ``<title>`` and ``<desc>``, and every bar or point
carries a ``<title>`` of its own (a tooltip with the exact figures). Colours
come from the console's stylesheet through the ``series-N`` classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Bar", "Point", "bar_chart", "line_chart", "nice_ceiling"]

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 12, 26
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar at `at`, `width` long, made of stacked parts (series name, value)."""

    at: datetime
    width: timedelta
    parts: tuple[tuple[str, float], ...]
    label: str


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a line: when, the value, the tooltip."""

    at: datetime
    value: float
    label: str


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10.0**exponent
        if candidate >= value:
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover  (10 × 10^k always reaches)


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


class _Frame:
    """The axes of one chart: time across, values up."""

    def __init__(self, start: datetime, end: datetime, top: float) -> None:
        self.start, self.end, self.top = start, end, top
        self.span = max((end - start).total_seconds(), 1.0)

    def x(self, at: datetime) -> float:
        share = (at - self.start).total_seconds() / self.span
        return LEFT + min(max(share, 0.0), 1.0) * PLOT_W

    def y(self, value: float) -> float:
        return TOP + PLOT_H - min(value / self.top, 1.0) * PLOT_H

    def axes(self, unit: str) -> list[str]:
        parts = []
        for fraction in (0.0, 0.5, 1.0):
            y = self.y(self.top * fraction)
            label = _number(self.top * fraction) + (f" {unit}" if fraction == 1.0 else "")
            parts.append(
                f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(label.strip())}</text>"
            )
        hours = max(1, round(self.span / 3600 / 4))
        tick = self.start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while tick < self.end:
            if tick.hour % hours == 0:
                x = self.x(tick)
                parts.append(
                    f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" '
                    f'y2="{TOP + PLOT_H}"/><text class="tick" x="{x:.1f}" '
                    f'y="{HEIGHT - 8}" text-anchor="middle">{tick:%H:%M}</text>'
                )
            tick += timedelta(hours=1)
        return parts


def _open(title: str, description: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" '
        f"aria-label={quoteattr(title)}><title>{escape(title)}</title>"
        f"<desc>{escape(description)}</desc>"
    )


def bar_chart(
    title: str,
    description: str,
    start: datetime,
    end: datetime,
    bars: Sequence[Bar],
    series: Sequence[str],
    unit: str = "",
) -> str:
    """Stacked bars between `start` and `end`; `series` orders the parts (and colours)."""
    classes = {name: f"series-{index}" for index, name in enumerate(series)}
    frame = _Frame(
        start, end, nice_ceiling(max((sum(v for _, v in b.parts) for b in bars), default=0))
    )
    out = [_open(title, description), *frame.axes(unit)]
    for bar in bars:
        x = frame.x(bar.at)
        width = max(frame.x(bar.at + bar.width) - x, 0.6)
        base = 0.0
        rects = []
        for name, value in sorted(bar.parts, key=lambda part: series.index(part[0])):
            if value <= 0:
                continue
            y_top, y_base = frame.y(base + value), frame.y(base)
            rects.append(
                f'<rect class="bar {classes[name]}" data-series={quoteattr(name)} '
                f'data-value="{value:g}" x="{x:.2f}" y="{y_top:.2f}" '
                f'width="{width:.2f}" height="{y_base - y_top:.2f}"/>'
            )
            base += value
        if rects:
            out.append(f"<g><title>{escape(bar.label)}</title>{''.join(rects)}</g>")
    out.append("</svg>")
    return "".join(out)


def line_chart(
    title: str,
    description: str,
    start: datetime,
    end: datetime,
    lines: Mapping[str, Sequence[Point]],
    unit: str = "",
) -> str:
    """One polyline with its points per series, between `start` and `end`."""
    top = max((p.value for points in lines.values() for p in points), default=0)
    frame = _Frame(start, end, nice_ceiling(top))
    out = [_open(title, description), *frame.axes(unit)]
    for index, (name, points) in enumerate(lines.items()):
        css = f"series-{index}"
        coords = [(frame.x(p.at), frame.y(p.value)) for p in points]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(
                f'<polyline class="line {css}" data-series={quoteattr(name)} points="{path}"/>'
            )
        for point, (x, y) in zip(points, coords, strict=True):
            out.append(
                f'<circle class="dot {css}" data-series={quoteattr(name)} '
                f'data-value="{point.value:g}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(point.label)}</title></circle>"
            )
    out.append("</svg>")
    return "".join(out)
