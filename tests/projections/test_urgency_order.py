"""The worklist's default order (docs/rules.md §11): the pure function's boundaries, and the
SQL of guardian/projections/worklist.py ordering every combination of them as it does."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import insert

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.domain import urgency
from guardian.domain.urgency import Tier
from guardian.projections import worklist as wl

TODAY = dt.date(2026, 12, 7)
DAY = dt.timedelta(days=1)


def test_news_is_new_for_fourteen_days_today_included():
    assert urgency.is_new(TODAY, TODAY)
    assert urgency.is_new(TODAY - 13 * DAY, TODAY)
    assert not urgency.is_new(TODAY - 14 * DAY, TODAY)
    assert not urgency.is_new(None, TODAY)


@pytest.mark.parametrize(("news_on", "priority", "at_risk_from", "breach_on", "tier"), [
    (TODAY, 1, None, None, Tier.NEW),
    (TODAY - 14 * DAY, 1, None, TODAY - 20 * DAY, Tier.BREACHED),  # news too old
    (None, 3, None, TODAY - 5 * DAY, Tier.CANCER),  # a cancer breach already seen
    (None, 3, None, None, Tier.CANCER),
    (None, 2, TODAY, TODAY + DAY, Tier.AT_RISK),  # first day of the window
    (None, 1, TODAY - 13 * DAY, TODAY + DAY, Tier.AT_RISK),  # last day before the breach
    (None, 1, TODAY - 14 * DAY, TODAY, Tier.BREACHED),  # the breach day itself
    (None, 1, TODAY + DAY, TODAY + 15 * DAY, Tier.OTHER),  # the window opens tomorrow
    (None, 1, None, None, Tier.OTHER),  # nothing tracked
])
def test_tiers_at_their_boundaries(news_on, priority, at_risk_from, breach_on, tier):
    assert urgency.tier(news_on, priority, at_risk_from, breach_on, TODAY) is tier


def test_within_the_new_tier_the_newest_comes_first_then_cancer():
    today_routine = urgency.urgency(TODAY, 1, None, None, None, TODAY)
    today_cancer = urgency.urgency(TODAY, 3, None, None, None, TODAY)
    older_cancer = urgency.urgency(TODAY - DAY, 3, None, None, None, TODAY)
    assert today_cancer < today_routine < older_cancer


def test_at_risk_steps_come_by_how_soon_they_fall_due():
    soon = urgency.urgency(None, 1, TODAY - 10 * DAY, TODAY + 3 * DAY, TODAY + 2 * DAY, TODAY)
    later = urgency.urgency(None, 1, TODAY - 2 * DAY, TODAY + 9 * DAY, TODAY + 8 * DAY, TODAY)
    assert soon < later


def _rows() -> list[dict]:
    """A worklist row for every combination of the order's inputs at their boundaries."""
    news = [None, TODAY, TODAY - DAY, TODAY - 13 * DAY, TODAY - 14 * DAY]
    deadlines = [None, (TODAY, TODAY + DAY), (TODAY - 13 * DAY, TODAY + DAY),
                 (TODAY - 14 * DAY, TODAY), (TODAY - 40 * DAY, TODAY - 26 * DAY),
                 (TODAY + DAY, TODAY + 15 * DAY), (TODAY + 30 * DAY, TODAY + 44 * DAY)]
    rows = []
    for n, (news_on, priority, deadline) in enumerate(
            itertools.product(news, (1, 2, 3), deadlines)):
        at_risk_from, breach_on = deadline or (None, None)
        last_day = breach_on - DAY if breach_on else None
        rows.append({
            "provider": "RAJ", "pathway_id": f"P{n:03d}", "patient_id": f"{n:032x}",
            "nhs_number": "9990000018", "birth_date": dt.date(1950, 1, 1),
            "practice_code": "Z90001", "pcn_code": "U90001", "treatment_function": "110",
            "priority": priority, "waiting_list_type": "ORTT", "stage": "awaiting-treatment",
            "received_on": TODAY - 100 * DAY, "breaches": 0, "workup_outstanding": 0,
            "diagnostics_outstanding": 0, "unanswered_messages": 0,
            "news_on": news_on,
            "news_sort": urgency.descending(news_on) if news_on else None,
            "next_deadline": last_day, "next_breach_on": breach_on,
            "next_at_risk_from": at_risk_from,
            "deadline_sort": last_day or urgency.NO_DEADLINE,
            "wait_from": TODAY - 100 * DAY,
        })
    return rows


def test_the_worklist_sql_orders_as_the_function_does(database_url, tmp_path):
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(app)
    rows = _rows()
    with app.engine.begin() as conn:
        conn.execute(insert(wl.worklist), rows)
    expected = sorted(rows, key=lambda r: (*urgency.urgency(
        r["news_on"], r["priority"], r["next_at_risk_from"], r["next_breach_on"],
        r["next_deadline"], TODAY), r["provider"], r["pathway_id"]))
    with app.engine.connect() as conn:
        got, after = [], None
        while part := wl.page(conn, wl.Scope(None), "U90001", TODAY, (), "urgency", after, 9):
            got += part
            after = wl.position_after("urgency", part[-1])
        new = wl.page(conn, wl.Scope(None), "U90001", TODAY, ["new"], "urgency", None, 1000)
    assert [r["pathway_id"] for r in got] == [r["pathway_id"] for r in expected]
    assert {r["pathway_id"] for r in new} == {
        r["pathway_id"] for r in rows if urgency.is_new(r["news_on"], TODAY)}
    assert {urgency.tier(r["news_on"], r["priority"], r["next_at_risk_from"],
                         r["next_breach_on"], TODAY) for r in rows} == set(Tier)
    app.close()
