"""Bar geometry for the server-rendered SVG charts (templates/reports/_bar_chart.html).

All arithmetic happens here so the template only places what it is given. A chart is
rows of (label, values), one value per series; a value that is not a number (such as
the "<5" of a suppressed count) gets no bar, only its text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext as _

from mutualaid.reports.statistics import MonthCell, PublicCell, ShortageRow
from mutualaid.reports.suppression import HIDDEN, SMALL

WIDTH = 640
BAR_HEIGHT = 20
BAR_GAP = 4  # between the bars of one row
ROW_GAP = 14
TOP_PADDING = 4  # so the first bar's outline is not cut
LEGEND_HEIGHT = 30
DESCRIBED_ROWS = 20  # a screen reader hears the figures themselves up to this many rows
LEGEND_ENTRY_WIDTH = 240
CHARACTER_WIDTH = 8.5  # roughly, at FONT_SIZE, to size the label column
FONT_SIZE = 14
MAX_LABEL_CHARACTERS = 28

# Each series differs by pattern as well as colour, so print-outs and people who do not
# tell the colours apart can still read the chart (with the text on every bar).
PATTERNS = ("solid", "hatched", "dotted")


@dataclass(frozen=True)
class Series:
    name: str
    pattern: str
    pattern_id: str
    legend_x: int


@dataclass(frozen=True)
class Bar:
    series: Series
    value_text: str  # for the table
    text: str  # drawn next to the bar
    x: float
    y: float
    width: float
    height: float
    text_x: float
    text_y: float


@dataclass(frozen=True)
class ChartRow:
    label: str
    short_label: str
    label_y: float
    bars: list[Bar]


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    label_heading: str
    series: list[Series]
    rows: list[ChartRow]
    width: int
    height: float
    label_width: float
    label_x: float  # right edge of the row labels
    legend: bool


Value = int | float | str | None


def value_text(value: Value) -> str:
    """A published value in words: "<5" is "fewer than 5"."""
    if value is None:
        return "-"
    if value == SMALL:
        return _("fewer than 5")
    if value == HIDDEN:
        return _("hidden")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _shorten(label: str) -> str:
    if len(label) <= MAX_LABEL_CHARACTERS:
        return label
    return label[: MAX_LABEL_CHARACTERS - 1] + "…"


def bar_chart(
    rows: Iterable[tuple[str, Sequence[Value]]],
    *,
    chart_id: str,
    title: str,
    series: Sequence[str],
    label_heading: str,
    description: str = "",
) -> BarChart:
    """Lay out a horizontal bar chart: one group of bars per row, one bar per series.

    `chart_id` must be unique on the page (it prefixes the SVG's ids); `series` names
    the values of each row, in order; `label_heading` heads the row labels in the table.
    """
    chart_id = slugify(chart_id) or "chart"
    rows = [(label, list(values)) for label, values in rows]
    all_series = [
        Series(
            name=name,
            pattern=PATTERNS[i % len(PATTERNS)],
            pattern_id=f"{chart_id}-pattern-{i}",
            legend_x=i * LEGEND_ENTRY_WIDTH,
        )
        for i, name in enumerate(series)
    ]
    numbers = [v for _label, values in rows for v in values if isinstance(v, int | float)]
    largest = max(numbers, default=0) or 1
    longest_label = max((len(_shorten(label)) for label, _values in rows), default=0)
    label_width = min(max(longest_label * CHARACTER_WIDTH + 12, 80), MAX_LABEL_CHARACTERS * CHARACTER_WIDTH)
    legend = len(all_series) > 1

    def text_of(one_series: Series, value: Value) -> str:
        return f"{one_series.name}: {value_text(value)}" if legend else value_text(value)

    longest_text = max(
        (len(text_of(s, v)) for _label, values in rows for s, v in zip(all_series, values, strict=True)),
        default=0,
    )
    bar_room = WIDTH - label_width - (longest_text * CHARACTER_WIDTH + 12)
    y = TOP_PADDING + (LEGEND_HEIGHT if legend else 0.0)
    chart_rows = []
    for label, values in rows:
        row_top = y
        bars = []
        for one_series, value in zip(all_series, values, strict=True):
            length = bar_room * value / largest if isinstance(value, int | float) and value > 0 else 0.0
            shown = value_text(value)
            bars.append(
                Bar(
                    series=one_series,
                    value_text=shown,
                    text=text_of(one_series, value),
                    x=label_width,
                    y=y,
                    width=round(length, 1),
                    height=BAR_HEIGHT,
                    text_x=round(label_width + length + 6, 1),
                    text_y=y + BAR_HEIGHT - 5,
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        group_height = y - BAR_GAP - row_top
        chart_rows.append(
            ChartRow(
                label=label,
                short_label=_shorten(label),
                label_y=round(row_top + group_height / 2 + FONT_SIZE / 3, 1),
                bars=bars,
            )
        )
        y += ROW_GAP - BAR_GAP
    return BarChart(
        id=chart_id,
        title=title,
        description=description or _describe(chart_rows),
        label_heading=label_heading,
        series=all_series,
        rows=chart_rows,
        width=WIDTH,
        height=max(y, 1),
        label_width=label_width,
        label_x=label_width - 8,
        legend=legend,
    )


def _describe(rows: list[ChartRow]) -> str:
    """What the chart shows, in words, for screen readers (the table has it all too)."""
    table_note = _("The figures are also in the table below the chart.")
    if not rows or len(rows) > DESCRIBED_ROWS:
        return table_note
    sentences = [f"{row.label}: " + ", ".join(bar.text for bar in row.bars) + "." for row in rows]
    return " ".join([*sentences, table_note])


def shortage_chart(rows: Sequence[ShortageRow], *, chart_id: str, title: str, label_heading: str) -> BarChart:
    """Two bars per row: open requests against available volunteers (volunteer_shortage rows)."""
    return bar_chart(
        ((row.label, (row.open_requests, row.available_volunteers)) for row in rows),
        chart_id=chart_id,
        title=title,
        series=(_("Open requests"), _("Available volunteers")),
        label_heading=label_heading,
    )


def public_table_chart(
    cells: Sequence[PublicCell] | None, *, chart_id: str, title: str, label_heading: str
) -> BarChart | None:
    """One bar per row of a public_figures table; None when the table is withheld."""
    if cells is None:
        return None
    return bar_chart(
        ((cell["label"], (cell["requests"],)) for cell in cells),
        chart_id=chart_id,
        title=title,
        series=(_("Requests"),),
        label_heading=label_heading,
    )


def monthly_chart(cells: Sequence[MonthCell] | None, *, chart_id: str, title: str) -> BarChart | None:
    """Two bars per month (requests, of which helped); None when the series is withheld."""
    if cells is None:
        return None
    return bar_chart(
        (
            (
                date_format(dt.date.fromisoformat(f"{cell['month']}-01"), "F Y"),
                (cell["requests"], cell["helped"]),
            )
            for cell in cells
        ),
        chart_id=chart_id,
        title=title,
        series=(_("Requests"), _("Helped")),
        label_heading=_("Month"),
    )
