"""Givens of the wait-time standards tests: pathways, messages and flags, and checks of a
deadline's boundaries."""

from __future__ import annotations

import datetime as dt

from guardian.domain import standards as S
from guardian.domain.pathway import DeteriorationFlag, Message, Pathway

D = dt.date
ONE = dt.timedelta(days=1)
NO_HOLIDAYS: frozenset[dt.date] = frozenset()


def given_pathway(**kw: object) -> Pathway:
    """An open routine RTT pathway received and started on 2026-01-05 unless told otherwise."""
    values: dict[str, object] = {
        "provider": "RAJ",
        "pathway_id": "P1",
        "practice_code": "F81001",
        "treatment_function": "110",
        "priority": 1,
        "waiting_list_type": "ORTT",
        "received_on": D(2026, 1, 5),
        "clock_start": D(2026, 1, 5),
    }
    values.update(kw)
    return Pathway(**values)  # type: ignore[arg-type]


def given_message(mid: str = "m1", on: dt.date = D(2026, 1, 7), party: str = "gp",
                  direction: str = "in", answered_on: dt.date | None = None) -> Message:
    return Message(mid, direction, party, on, dt.datetime.combine(on, dt.time(9)), "hello",
                   answered_on=answered_on)


def given_flag(fid: str = "f1", raised_on: dt.date = D(2026, 1, 7),
               pathway: tuple[str, str] | None = None,
               reviewed_on: dt.date | None = None) -> DeteriorationFlag:
    return DeteriorationFlag(fid, raised_on, "worse pain", "patient", pathway=pathway,
                             reviewed_on=reviewed_on)


def only(items: list[S.Deadline], code: str) -> S.Deadline:
    found = [d for d in items if d.standard.code == code]
    assert len(found) == 1, [d.standard.code for d in items]
    return found[0]


def state_on(deadline: S.Deadline, on: dt.date) -> str:
    return S.status_on(deadline, on).state


def assert_calendar_boundaries(dl: S.Deadline, last_day: int, window: int | None) -> None:
    """Then: within up to the window, at risk in the window, breached from the day after."""
    start = dl.clock_from
    last = start + dt.timedelta(days=last_day)
    assert dl.last_day_within == last
    assert dl.breach_on == last + ONE
    # day before, on and after the last day within
    assert S.status_on(dl, last - ONE).state in ("at-risk", "within")
    assert S.status_on(dl, last).state == ("at-risk" if window else "within")
    assert S.status_on(dl, last).days_left == 0
    assert state_on(dl, last + ONE) == "breached"
    assert S.status_on(dl, last + ONE).days_left == -1
    if window:
        first_at_risk = last - dt.timedelta(days=window - 1)
        assert dl.at_risk_from == first_at_risk
        assert state_on(dl, first_at_risk - ONE) == "within"
        assert state_on(dl, first_at_risk) == "at-risk"
    else:
        assert dl.at_risk_from is None
        assert state_on(dl, last - ONE) == "within"
