"""Breached / at risk / within on a date: the one rule (standards.deadline_state), at its
boundaries, for dates and as SQL conditions alike (docs/rules.md §3, §4)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, Table, create_engine, insert, select

from guardian.domain import standards
from guardian.domain.pathway import Pathway
from guardian.domain.standards import at_risk_when, breached_when, deadline_state

D = dt.date
ONE = dt.timedelta(days=1)
BREACH = D(2026, 5, 12)  # RTT 18 from 5 Jan 2026: last day within 11 May, breach 12 May
WINDOW = D(2026, 4, 28)  # 14-day window: 28 Apr to 11 May


@pytest.mark.parametrize("on, state", [
    (BREACH + 30 * ONE, "breached"),
    (BREACH, "breached"),  # the breach day itself
    (BREACH - ONE, "at-risk"),  # the last day within
    (WINDOW, "at-risk"),  # the first day of the window
    (WINDOW - ONE, "within"),  # the day before it
    (D(2026, 1, 5), "within"),
])
def test_boundaries(on, state):
    assert deadline_state(BREACH, WINDOW, on) == state
    assert breached_when(BREACH, on) is (state == "breached")
    assert at_risk_when(WINDOW, BREACH, on) is (state == "at-risk")


@pytest.mark.parametrize("on", [WINDOW - ONE, WINDOW, BREACH - ONE])
def test_without_a_window_never_at_risk(on):
    assert deadline_state(BREACH, None, on) == "within"
    assert at_risk_when(None, BREACH, on) is False


def test_without_a_deadline_neither():
    for on in (WINDOW, BREACH, BREACH + ONE):
        assert deadline_state(None, None, on) == "within"
        assert breached_when(None, on) is False and at_risk_when(WINDOW, None, on) is False
    assert deadline_state(BREACH, None, BREACH) == "breached"


def test_status_on_follows_the_rule():
    rtt18 = standards.get_standard("rtt-18")
    pathway = Pathway("RAJ", "PPI-1", "Z90001", "110", 1, "ORTT", D(2026, 1, 5), D(2026, 1, 5))
    [deadline] = standards.deadlines(pathway, standards=[rtt18])
    assert (deadline.breach_on, deadline.at_risk_from) == (BREACH, D(2026, 4, 28))
    for on in (WINDOW - ONE, WINDOW, BREACH - ONE, BREACH):
        assert standards.status_on(deadline, on).state == deadline_state(BREACH, WINDOW, on)


def test_the_same_functions_as_sql_conditions_agree_with_python():
    """NULL dates in SQL behave as None does in Python: neither breached nor at risk."""
    md = MetaData()
    t = Table("deadline", md, Column("id", Integer, primary_key=True),
              Column("breach_on", Date), Column("at_risk_from", Date))
    engine = create_engine("sqlite://")
    md.create_all(engine)
    days = [None, WINDOW - ONE, WINDOW, BREACH - ONE, BREACH, BREACH + ONE]
    rows = [{"id": n, "breach_on": b, "at_risk_from": r}
            for n, (b, r) in enumerate(itertools.product(days, days))
            if b is None or r is None or r <= b]
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
        for on in days[1:]:
            breached = {i for (i,) in conn.execute(
                select(t.c.id).where(breached_when(t.c.breach_on, on)))}
            at_risk = {i for (i,) in conn.execute(
                select(t.c.id).where(at_risk_when(t.c.at_risk_from, t.c.breach_on, on)))}
            for row in rows:
                state = deadline_state(row["breach_on"], row["at_risk_from"], on)
                assert (row["id"] in breached) == (state == "breached"), (row, on)
                assert (row["id"] in at_risk) == (state == "at-risk"), (row, on)
