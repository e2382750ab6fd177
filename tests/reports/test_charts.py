"""The SVG bar chart: geometry from the helper, accessibility from the include."""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils import translation

from mutualaid.reports.charts import bar_chart, public_table_chart, shortage_chart
from mutualaid.reports.statistics import ShortageRow
from mutualaid.reports.suppression import HIDDEN, SMALL


def test_bars_are_proportional_to_their_values():
    chart = bar_chart(
        [("Kessel-Lo", (10,)), ("Heverlee", (5,)), ("Wilsele", (0,))],
        chart_id="test",
        title="Requests",
        series=["Requests"],
        label_heading="Neighbourhood",
    )
    widths = [row.bars[0].width for row in chart.rows]
    assert widths[0] > 0
    assert widths[1] == round(widths[0] / 2, 1)
    assert widths[2] == 0
    assert [row.bars[0].text for row in chart.rows] == ["10", "5", "0"]


def test_suppressed_values_get_words_and_no_bar():
    chart = public_table_chart(
        [{"label": "Wilsele", "requests": SMALL}, {"label": "Herent", "requests": HIDDEN}],
        chart_id="test",
        title="Requests",
        label_heading="Neighbourhood",
    )
    assert [row.bars[0].width for row in chart.rows] == [0, 0]
    assert [row.bars[0].text for row in chart.rows] == ["fewer than 5", "hidden"]


def test_a_withheld_table_has_no_chart():
    assert public_table_chart(None, chart_id="x", title="t", label_heading="h") is None


def test_shortage_chart_draws_two_bars_per_row_with_distinct_patterns_and_text():
    chart = shortage_chart(
        [ShortageRow("Shopping", 3, 1)], chart_id="shortage", title="Shortage", label_heading="Kind of help"
    )
    requests, volunteers = chart.rows[0].bars
    assert requests.series.pattern != volunteers.series.pattern
    assert requests.series.pattern_id != volunteers.series.pattern_id
    assert requests.text == "Open requests: 3"
    assert volunteers.text == "Available volunteers: 1"
    assert requests.y < volunteers.y
    assert chart.legend


def test_chart_ids_differ_so_two_charts_can_share_a_page():
    first = shortage_chart([], chart_id="by category", title="a", label_heading="b")
    second = shortage_chart([], chart_id="by neighbourhood", title="a", label_heading="b")
    assert first.series[0].pattern_id != second.series[0].pattern_id
    assert first.id == "by-category"


def _rendered(chart) -> str:
    return render_to_string("reports/_bar_chart.html", {"chart": chart})


def test_the_chart_is_an_image_with_a_title_and_a_table_to_open():
    chart = shortage_chart(
        [ShortageRow("Shopping", 3, 1), ShortageRow("Pharmacy", 0, 2)],
        chart_id="shortage",
        title="Requests and volunteers per kind of help",
        label_heading="Kind of help",
    )
    html = _rendered(chart)
    assert 'role="img"' in html
    assert 'aria-labelledby="shortage-title shortage-desc"' in html
    assert '<title id="shortage-title">Requests and volunteers per kind of help</title>' in html
    assert "<details>" in html
    assert "<caption>Requests and volunteers per kind of help</caption>" in html
    assert '<th scope="row">Shopping</th><td>3</td><td>1</td>' in html
    assert "Open requests: 3" in html  # the text on the bar itself
    assert "Shopping: Open requests: 3, Available volunteers: 1. Pharmacy:" in html  # the description
    assert 'fill="url(#shortage-pattern-1)"' in html


def test_svg_coordinates_stay_numbers_in_languages_with_a_decimal_comma():
    chart = shortage_chart(
        [ShortageRow("Shopping", 3, 7), ShortageRow("Pharmacy", 1, 2)],
        chart_id="shortage",
        title="t",
        label_heading="h",
    )
    with translation.override("fr"):
        html = _rendered(chart)
    coordinates = re.findall(r' (?:x|y|width|height|viewBox)="([^"]*)"', html)
    assert coordinates
    for value in coordinates:
        for number in value.removesuffix("%").split():
            float(number)
