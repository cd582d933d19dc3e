"""Working days and England and Wales bank holidays (docs/rules.md §7)."""

from __future__ import annotations

from standards_givens import NO_HOLIDAYS, D

from guardian.domain import standards as S


def test_weekends_are_not_working_days() -> None:
    assert S.is_working_day(D(2026, 1, 9), NO_HOLIDAYS)  # Friday
    assert not S.is_working_day(D(2026, 1, 10), NO_HOLIDAYS)  # Saturday
    assert not S.is_working_day(D(2026, 1, 11), NO_HOLIDAYS)  # Sunday


def test_add_working_days_across_a_weekend() -> None:
    # Given Thursday 2026-01-08 / When 2 working days are added / Then Monday
    assert S.add_working_days(D(2026, 1, 8), 1, NO_HOLIDAYS) == D(2026, 1, 9)
    assert S.add_working_days(D(2026, 1, 8), 2, NO_HOLIDAYS) == D(2026, 1, 12)
    # from a Saturday the first working day is Monday
    assert S.add_working_days(D(2026, 1, 10), 1, NO_HOLIDAYS) == D(2026, 1, 12)
    assert S.add_working_days(D(2026, 1, 10), 0, NO_HOLIDAYS) == D(2026, 1, 10)
    assert S.add_working_days(D(2026, 1, 12), -1, NO_HOLIDAYS) == D(2026, 1, 9)


def test_england_bank_holidays_2026() -> None:
    hols = S.england_and_wales_bank_holidays([2026])
    assert {D(2026, 4, 3), D(2026, 4, 6), D(2026, 12, 25), D(2026, 12, 28)} <= hols
    assert D(2026, 4, 7) not in hols
    assert not S.is_working_day(D(2026, 4, 3), hols)  # Good Friday
    assert not S.is_working_day(D(2026, 4, 6), hols)  # Easter Monday
    assert not S.is_working_day(D(2026, 12, 28), hols)  # Boxing Day substitute
    assert S.is_working_day(D(2026, 12, 29), hols)


def test_add_working_days_across_easter_2026_with_default_bank_holidays() -> None:
    # Given Thursday 2026-04-02 / Then Good Friday, the weekend and Easter Monday are skipped
    assert S.add_working_days(D(2026, 4, 2), 1) == D(2026, 4, 7)
    assert S.add_working_days(D(2026, 4, 2), 2) == D(2026, 4, 8)
    assert S.is_working_day(D(2026, 4, 2))
    assert not S.is_working_day(D(2026, 4, 6))


def test_add_working_days_across_christmas_2026() -> None:
    # Given Thursday 24 Dec 2026: 25th (Fri), weekend, 28th (Boxing Day substitute) skipped
    hols = S.england_and_wales_bank_holidays([2026, 2027])
    assert S.add_working_days(D(2026, 12, 24), 1, hols) == D(2026, 12, 29)
    assert S.add_working_days(D(2026, 12, 24), 2, hols) == D(2026, 12, 30)
    # and across new year (1 Jan 2027 is a Friday bank holiday)
    assert S.add_working_days(D(2026, 12, 31), 1, hols) == D(2027, 1, 4)
    assert S.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)


def test_injected_bank_holidays_are_used() -> None:
    # Given a local holiday on Monday 2026-01-12
    assert S.add_working_days(D(2026, 1, 9), 1, frozenset({D(2026, 1, 12)})) == D(2026, 1, 13)
