"""The standards table (docs/rules.md §2) and a deployment's overrides of it."""

from __future__ import annotations

import pytest

from guardian.domain import standards as S
from guardian.domain.errors import InvalidValue


def test_the_table_holds_every_row_of_section_14_with_its_defaults() -> None:
    # Given the default table / Then each row has the docs/rules.md §2 numbers
    rows = {s.code: (s.applies_to, s.procedure_priority, s.last_day_within, s.working_days,
                     s.at_risk_days) for s in S.STANDARDS}
    assert rows == {
        "rtt-18": ("rtt", None, 126, False, 14),
        "rtt-52": ("rtt", None, 364, False, 28),
        "rtt-65": ("rtt", None, 455, False, 28),
        "rtt-78": ("rtt", None, 546, False, 28),
        "rtt-104": ("rtt", None, 728, False, 28),
        "cancer-fds-28": ("cancer-fds", None, 28, False, 7),
        "cancer-62": ("cancer-62", None, 62, False, 14),
        "diagnostic-6w": ("diagnostic", None, 41, False, 7),
        "procedure-p2": ("procedure", "P2", 28, False, 7),
        "procedure-p3": ("procedure", "P3", 90, False, 14),
        "workup-14": ("workup", None, 14, False, 3),
        "deterioration-review": ("deterioration", None, 2, True, None),
        "message-answer": ("message", None, 2, True, None),
    }
    assert all(s.applies_to in S.KINDS and s.label for s in S.STANDARDS)
    assert S.get_standard("rtt-18").breach_day == 127
    assert S.get_standard("message-answer").breach_day is None
    assert "day 126" in S.get_standard("rtt-18").describe()


def test_load_standards_without_overrides_is_the_default_table() -> None:
    assert S.load_standards(None) == S.STANDARDS
    assert S.load_standards({}) == S.STANDARDS


def test_load_standards_applies_overrides_per_code() -> None:
    # Given a deployment that shortens the RTT at-risk window and disables workup's
    table = S.load_standards({"rtt-18": {"at_risk_days": 21, "last_day_within": "126"},
                              "WORKUP-14": {"at_risk_days": None}})
    # Then only those values change, in the same order
    assert [s.code for s in table] == [s.code for s in S.STANDARDS]
    assert S.get_standard("rtt-18", table).at_risk_days == 21
    assert S.get_standard("rtt-18", table).last_day_within == 126
    assert S.get_standard("workup-14", table).at_risk_days is None
    assert S.get_standard("rtt-52", table) == S.get_standard("rtt-52")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rtt-19": {"at_risk_days": 3}}, "not a known standard"),
        ({"rtt-18": {"at_risk_days": -1}}, "must not be negative"),
        ({"rtt-18": {"last_day_within": "-5"}}, "must not be negative"),
        ({"rtt-18": {"last_day_within": 12.5}}, "whole number"),
        ({"rtt-18": {"last_day_within": "twelve"}}, "whole number"),
        ({"rtt-18": {"last_day_within": True}}, "whole number"),
        ({"rtt-18": {"last_day_within": None}}, "whole number"),
        ({"rtt-18": {"label": "x"}}, "cannot be configured"),
        ({"rtt-18": 7}, "must be a mapping"),
        ({"procedure-p9": {"last_day_within": 7}}, "not a procedure priority"),
        ({"procedure-p4": {"last_day_within": 7}}, "not tracked"),
    ],
)
def test_load_standards_refuses_bad_overrides(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        S.load_standards(overrides)


def test_get_standard_refuses_an_unknown_code() -> None:
    with pytest.raises(InvalidValue, match="not a known standard"):
        S.get_standard("nope")
