"""Small-cell suppression for published counts (pure Python, no Django).

The rule, applied to each published table of counts (one table = cells that add up to
the community's total number of requests, which is published or can be derived):

1. **Primary suppression.** A count from 1 to 4 is shown as "<5" (`SMALL`). Zero is
   shown as 0: nobody is behind it.
2. **Complementary suppression.** A reader who knows the total can subtract the cells
   shown from it and learn the sum of the hidden ones. Whenever that sum, together
   with what the markers say ("<5" means 1 to 4, a hidden cell is at least 5 and at
   most the smallest count still shown), would pin down any hidden cell exactly, the
   smallest count still shown is hidden too (`HIDDEN`), and the check starts again.
   With a single "<5" cell this always hides one more cell, since the total gives it away.
3. **Withholding.** If every non-zero cell is hidden and one could still be worked
   out (e.g. a table of one cell under 5), the table is not published at all.

Tables are published in alphabetical order of their labels, never by size, so the
order of rows does not rank the hidden cells either.
"""

from __future__ import annotations

from collections.abc import Mapping

THRESHOLD = 5
SMALL = "<5"
HIDDEN = "hidden"

PublishedCount = int | str


def suppress_total(count: int) -> PublishedCount:
    """A single published figure: "<5" from 1 to 4, otherwise the count."""
    return SMALL if 0 < count < THRESHOLD else count


def suppress_small_counts(counts: Mapping[str, int]) -> dict[str, PublishedCount] | None:
    """The table as it may be published, or None when it cannot be published safely."""
    small = [label for label, count in counts.items() if 0 < count < THRESHOLD]
    if not small:
        return dict(counts)
    # Candidates for complementary suppression, smallest first (label breaks ties).
    shown = sorted((count, label) for label, count in counts.items() if count >= THRESHOLD)
    hidden: list[str] = []
    while _some_cell_can_be_worked_out(counts, small, hidden, shown):
        if not shown:
            return None
        hidden.append(shown.pop(0)[1])
    small_set, hidden_set = set(small), set(hidden)
    return {
        label: SMALL if label in small_set else HIDDEN if label in hidden_set else count
        for label, count in counts.items()
    }


def _some_cell_can_be_worked_out(
    counts: Mapping[str, int], small: list[str], hidden: list[str], shown: list[tuple[int, str]]
) -> bool:
    """Whether the total, minus the cells shown, pins down a suppressed cell.

    Each suppressed cell lies in a known range; their sum is known. A cell's possible
    values are then exactly the integers in [max(low, sum - others' highs),
    min(high, sum - others' lows)]: it is exposed when that range has one value.
    """
    group_sum = sum(counts[label] for label in small) + sum(counts[label] for label in hidden)
    # A hidden cell is at least the threshold and at most the smallest count still shown
    # (the rule hides the smallest first), and never more than the sum itself.
    hidden_high = min(shown[0][0], group_sum) if shown else group_sum
    ranges = [(1, THRESHOLD - 1)] * len(small) + [(THRESHOLD, hidden_high)] * len(hidden)
    lows = sum(low for low, _ in ranges)
    highs = sum(high for _, high in ranges)
    for low, high in ranges:
        can_be_low = max(low, group_sum - (highs - high))
        can_be_high = min(high, group_sum - (lows - low))
        if can_be_low >= can_be_high:
            return True
    return False
