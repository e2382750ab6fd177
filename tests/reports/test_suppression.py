"""Small-cell suppression: no published table lets a reader work out a count under 5."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mutualaid.reports.suppression import HIDDEN, SMALL, THRESHOLD, suppress_small_counts, suppress_total
from tests.conftest import examples


def test_counts_of_five_and_more_are_published_as_they_are():
    assert suppress_small_counts({"Kessel-Lo": 6, "Heverlee": 5, "Wilsele": 0}) == {
        "Kessel-Lo": 6,
        "Heverlee": 5,
        "Wilsele": 0,
    }


def test_a_count_under_five_is_shown_as_less_than_five():
    published = suppress_small_counts({"Wilsele": 4, "Kessel-Lo": 6, "Heverlee": 8})
    assert published is not None
    assert published["Wilsele"] == SMALL


def test_a_lone_small_cell_hides_the_next_smallest_so_the_total_does_not_give_it_away():
    # Total 18 - 8 = 10 = Wilsele + Kessel-Lo: Wilsele could be 2, 3 or 4.
    assert suppress_small_counts({"Wilsele": 4, "Kessel-Lo": 6, "Heverlee": 8}) == {
        "Wilsele": SMALL,
        "Kessel-Lo": HIDDEN,
        "Heverlee": 8,
    }


def test_two_small_cells_with_an_ambiguous_sum_need_no_complement():
    assert suppress_small_counts({"Wilsele": 2, "Herent": 3, "Heverlee": 9}) == {
        "Wilsele": SMALL,
        "Herent": SMALL,
        "Heverlee": 9,
    }


def test_small_cells_that_are_all_ones_are_protected_too():
    # 1 + 1 = 2 can only be two ones: the smallest shown cell must go as well.
    published = suppress_small_counts({"Wilsele": 1, "Herent": 1, "Heverlee": 9, "Kessel-Lo": 12})
    assert published == {"Wilsele": SMALL, "Herent": SMALL, "Heverlee": HIDDEN, "Kessel-Lo": 12}


def test_a_table_that_cannot_be_protected_is_withheld():
    assert suppress_small_counts({"Wilsele": 3}) is None
    assert suppress_small_counts({"Wilsele": 1, "Herent": 5}) is None


def test_a_single_figure_under_five_is_suppressed_and_zero_is_not():
    assert [suppress_total(n) for n in (0, 1, 4, 5, 12)] == [0, SMALL, SMALL, 5, 12]


def _possible_values(published: dict, counts: dict) -> dict[str, set[int]]:
    """Brute force: every table consistent with what a reader sees and the total."""
    total = sum(counts.values())
    shown = [v for v in published.values() if isinstance(v, int)]
    suppressed = [label for label, v in published.items() if not isinstance(v, int)]
    smallest_shown = min((v for v in shown if v >= THRESHOLD), default=total)
    ranges = [
        range(1, THRESHOLD) if published[label] == SMALL else range(THRESHOLD, smallest_shown + 1)
        for label in suppressed
    ]
    possible: dict[str, set[int]] = {label: set() for label in suppressed}
    for values in itertools.product(*ranges):
        if sum(values) + sum(shown) == total:
            for label, value in zip(suppressed, values, strict=True):
                possible[label].add(value)
    return possible


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=0, max_value=14), max_size=5))
def test_no_suppressed_cell_can_be_worked_out_from_the_total(counts):
    published = suppress_small_counts(counts)
    if published is None:
        assert any(0 < n < THRESHOLD for n in counts.values())
        return
    for label, count in counts.items():
        if 0 < count < THRESHOLD:
            assert published[label] == SMALL
        elif published[label] != HIDDEN:
            assert published[label] == count
    for label, values in _possible_values(published, counts).items():
        assert counts[label] in values
        assert len(values) > 1, f"{label} is exposed: {published} total {sum(counts.values())}"
