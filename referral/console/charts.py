"""Charts drawn on the server as SVG (no script, no CDN: the pages' CSP holds), each with its numbers as a
table beside it in the template for people who cannot see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import format_date, format_datetime
from markupsafe import Markup, escape

from referral.web import time_tag

WIDTH, HEIGHT, AXIS = 720, 180, 28


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]
    kind: str  # its CSS class: the colour (console.css)


@dataclass(frozen=True)
class Axis:
    """The bars' days (or hours), each written twice: short under its bar, whole as a ``<time>`` in the table."""

    short: list[str]
    whole: list[Markup]


def axis(days: Sequence[date], hourly: bool = False) -> Axis:  # days, or datetimes one per hour
    """The days written out once for every chart of a page over them (the overview's three charts of 90 days
    wrote each day six times: two thirds of its time went to babel's formatting)."""
    short = [format_datetime(day, "d MMM HH:mm") if hourly else format_date(day, "d MMM") for day in days]
    return Axis(short, [time_tag(day) for day in days])


@dataclass(frozen=True)
class Chart:
    title: str
    axis: Axis
    series: list[Series]
    svg: Markup

    @property
    def rows(self) -> list[tuple[Markup, list[int]]]:
        return [(day, [s.values[i] for s in self.series]) for i, day in enumerate(self.axis.whole)]

    @property
    def totals(self) -> list[int]:
        return [sum(s.values) for s in self.series]


def stacked_bars(days: Axis, series: list[Series], title: str) -> Chart:
    """One bar per day of ``days`` (or hour), its series stacked bottom up; the tallest bar fills the height."""
    peak = max([sum(values) for values in zip(*(s.values for s in series), strict=True)] or [0]) or 1
    step = (WIDTH - AXIS) / max(len(days.short), 1)
    bar = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 20}" role="img" aria-label="{escape(title)}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<text class="axis" x="0" y="12">{peak}</text><text class="axis" x="0" y="{HEIGHT}">0</text>',
        f'<line class="base" x1="{AXIS}" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}"/>',
    ]
    for i, shown in enumerate(days.short):
        x, top = AXIS + i * step, float(HEIGHT)
        for s in series:
            height = s.values[i] / peak * (HEIGHT - 16)
            if height > 0:
                top -= height
                parts.append(
                    f'<rect class="{s.kind}" x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}">'
                    f"<title>{escape(shown)}: {escape(s.label)} {s.values[i]}</title></rect>"
                )
        if i % max(len(days.short) // 7, 1) == 0:  # about seven dates along the axis
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT + 16}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Chart(title, days, series, Markup("".join(parts)))


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f} %"
