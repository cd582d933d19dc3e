"""Small-number suppression at its boundaries (docs/suppression.md)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.projections.suppression import suppress_count, suppress_statistic


@pytest.mark.parametrize(
    "count, shown",
    [(0, 0), (1, "*"), (7, "*"), (8, 10), (9, 10), (10, 10), (12, 10), (13, 15),
     (14, 15), (15, 15), (127, 125), (128, 130), (1_000_002, 1_000_000)],
)
def test_counts(count, shown):
    assert suppress_count(count) == shown


def test_negative_counts_are_a_programming_error():
    with pytest.raises(ValueError):
        suppress_count(-1)


@given(st.integers(min_value=8, max_value=10**7))
def test_shown_counts_are_multiples_of_5_within_2(count):
    shown = suppress_count(count)
    assert shown % 5 == 0 and abs(shown - count) <= 2


@pytest.mark.parametrize("group, shown", [(0, "*"), (7, "*"), (8, "45.5"), (200, "45.5")])
def test_statistics_need_a_group_of_8(group, shown):
    assert suppress_statistic(45.46, group) == shown


def test_a_missing_statistic_is_suppressed_and_formatting_is_the_callers():
    assert suppress_statistic(None, 100) == "*"
    assert suppress_statistic(0.9231, 100, lambda v: f"{100 * v:.1f}%") == "92.3%"
