"""Working days: Monday to Friday except England and Wales bank holidays (docs/rules.md §7).

Every function that needs bank holidays takes them as a parameter; when it is None they are
computed lazily (and cached) for the years needed from the `holidays` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable
from functools import lru_cache

BankHolidays = Container[dt.date]


def england_and_wales_bank_holidays(years: Iterable[int]) -> frozenset[dt.date]:
    """England and Wales bank holidays in the given years (substitute days included).

    docs/rules.md §7: working days exclude weekends and England and Wales bank
    holidays. From `holidays.country_holidays("GB", subdiv="ENG")` (England and Wales
    share their bank holidays); loaded lazily and cached per year.
    """
    out: set[dt.date] = set()
    for y in years:
        out |= _bank_holidays_in(int(y))
    return frozenset(out)


@lru_cache(maxsize=64)
def _bank_holidays_in(year: int) -> frozenset[dt.date]:
    import holidays  # lazy: only loaded when a working-day rule is first used

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _holiday_test(bank_holidays: BankHolidays | None) -> Callable[[dt.date], bool]:
    if bank_holidays is None:
        return lambda d: d in _bank_holidays_in(d.year)
    return lambda d: d in bank_holidays


def is_working_day(d: dt.date, bank_holidays: BankHolidays | None = None) -> bool:
    """docs/rules.md §7: a working day is Monday–Friday and not an England and Wales
    bank holiday. `bank_holidays` None: the holidays for `d`'s year, computed lazily."""
    return d.weekday() < 5 and not _holiday_test(bank_holidays)(d)


def add_working_days(start: dt.date, n: int,
                     bank_holidays: BankHolidays | None = None) -> dt.date:
    """The nth working day after `start` (n < 0: the |n|th working day before; n = 0: start).

    docs/rules.md §2, §7: deterioration reviews and message answers are due within 2
    working days, i.e. last day within = `add_working_days(raised_on, 2)`, and the breach
    is recorded on `add_working_days(last_day_within, 1)`. `start` itself never counts.
    """
    is_holiday = _holiday_test(bank_holidays)
    step = 1 if n >= 0 else -1
    d, left = start, abs(n)
    while left:
        d += dt.timedelta(days=step)
        if d.weekday() < 5 and not is_holiday(d):
            left -= 1
    return d
