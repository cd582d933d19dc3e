"""The worklist's default order (docs/rules.md §11): the pure function's boundaries, and the
SQL of guardian/projections/worklist.py ordering every combination of them as it does."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import func, insert, select

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.domain import urgency
from guardian.domain.urgency import Tier
from guardian.projections import worklist as wl
from guardian.projections.worklist_order import refresh_batch, refresh_urgency
from guardian.projections.worklist_order import stale as stale_on

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


def test_a_stored_key_holds_from_the_last_change_to_the_next():
    at_risk_from, breach_on = TODAY + 5 * DAY, TODAY + 19 * DAY
    key, first, until = urgency.stored(None, 1, at_risk_from, breach_on, breach_on - DAY,
                                       TODAY)
    assert (key[0], first, until) == (Tier.OTHER, urgency.ALWAYS, at_risk_from)
    _, first, until = urgency.stored(None, 1, at_risk_from, breach_on, None, at_risk_from)
    assert (first, until) == (at_risk_from, breach_on)  # the window's first day
    _, first, until = urgency.stored(None, 1, at_risk_from, breach_on, None, breach_on)
    assert (first, until) == (breach_on, urgency.NO_DEADLINE)  # breached for good
    _, first, until = urgency.stored(TODAY - 13 * DAY, 1, None, None, None, TODAY)
    assert (first, until) == (urgency.ALWAYS, TODAY + DAY)  # news new for its last day
    _, first, until = urgency.stored(TODAY - 14 * DAY, 1, None, None, None, TODAY)
    assert (first, until) == (TODAY, urgency.NO_DEADLINE)
    assert urgency.stored(None, 3, None, None, None, TODAY)[1:] == (
        urgency.ALWAYS, urgency.NO_DEADLINE)


def test_every_day_of_a_stored_span_gives_the_stored_key():
    """For every combination at its boundaries, written on any of 100 days: the function's
    key on each day of the span (within those days) is the stored one, and the span ends on
    a day the key may change (it need not: a cancer referral's stays put)."""
    days = [TODAY - 40 * DAY + n * DAY for n in range(100)]
    for row in _rows():
        facts = (row["news_on"], row["priority"], row["next_at_risk_from"],
                 row["next_breach_on"], row["next_deadline"])
        for written in days[::7]:
            key, first, until = urgency.stored(*facts, written)
            assert first <= written < until
            assert all(urgency.urgency(*facts, d) == key for d in days if first <= d < until)
            assert until == urgency.NO_DEADLINE or until in urgency.changes(
                row["news_on"], row["next_at_risk_from"], row["next_breach_on"])


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


WRITTEN_ON = [TODAY - 30 * DAY, TODAY - 14 * DAY, TODAY - DAY, TODAY, TODAY + 20 * DAY]
ASKED_ON = [TODAY - 15 * DAY, TODAY - DAY, TODAY, TODAY + DAY, TODAY + 14 * DAY]


def _stored_as_of(row: dict, day: dt.date) -> dict:
    """The row as the projector writes it on `day`: with the key that holds then."""
    key, first, until = urgency.stored(row["news_on"], row["priority"],
                                       row["next_at_risk_from"], row["next_breach_on"],
                                       row["next_deadline"], day)
    return {**row, "urgency_tier": key[0], "urgency_day": key[1], "urgency_cancer": key[2],
            "urgency_from": first, "urgency_until": until}


def _expected(rows: list[dict], on: dt.date) -> list[str]:
    return [r["pathway_id"] for r in sorted(rows, key=lambda r: (*urgency.urgency(
        r["news_on"], r["priority"], r["next_at_risk_from"], r["next_breach_on"],
        r["next_deadline"], on), r["provider"], r["pathway_id"]))]


def _walk(conn, on: dt.date, backwards: bool = False) -> list[str]:
    """Every row, 9 a page, forwards (or from past the end, backwards)."""
    got: list[dict] = []
    at = (int(Tier.OTHER) + 1, urgency.NO_DEADLINE, 2, "~", "~") if backwards else None
    while part := wl.page(conn, wl.Scope(None), "U90001", on, (), "urgency",
                          None if backwards else at, 9, before=at if backwards else None):
        got = part + got if backwards else got + part
        at = wl.position_after("urgency", part[0 if backwards else -1])
    return [r["pathway_id"] for r in got]


def test_the_worklist_sql_orders_as_the_function_does(database_url, tmp_path):
    """Whatever day each row was written on (its stored key holding or not on the day
    asked about), every day's order is the function's, paging forwards and backwards; and
    after the sweep's refresh, too, with every key then read from the rows."""
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(app)
    rows = _rows()
    with app.engine.begin() as conn:
        conn.execute(insert(wl.worklist), [_stored_as_of(r, WRITTEN_ON[n % len(WRITTEN_ON)])
                                           for n, r in enumerate(rows)])
    with app.engine.connect() as conn:
        for on in ASKED_ON:
            assert _walk(conn, on) == _expected(rows, on), on
        backwards = _walk(conn, TODAY, backwards=True)
        new = wl.page(conn, wl.Scope(None), "U90001", TODAY, ["new"], "urgency", None, 1000)
        stale = conn.execute(select(func.count()).select_from(wl.worklist)
                             .where(stale_on(wl.worklist, TODAY))).scalar_one()
    assert backwards == _expected(rows, TODAY)
    assert 0 < stale < len(rows)  # both branches are exercised
    assert {r["pathway_id"] for r in new} == {
        r["pathway_id"] for r in rows if urgency.is_new(r["news_on"], TODAY)}
    assert {urgency.tier(r["news_on"], r["priority"], r["next_at_risk_from"],
                         r["next_breach_on"], TODAY) for r in rows} == set(Tier)
    # in batches of 7 (105 rows, so several batches and a last short one)
    assert refresh_urgency(app.engine, wl.worklist, TODAY, batch=7) == stale
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(wl.worklist)
                            .where(stale_on(wl.worklist, TODAY))).scalar_one() == 0
        for on in ASKED_ON:
            assert _walk(conn, on) == _expected(rows, on), on
    app.close()


def test_a_refresh_leaves_a_row_the_projector_rewrote_meanwhile(database_url, tmp_path):
    """The refresh matches the dates it computed the key from: a row rewritten between its
    read and its update keeps what the projector wrote."""
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(app)
    row = _stored_as_of(_rows()[1], TODAY - 30 * DAY)  # at risk from TODAY, written before
    with app.engine.begin() as conn:
        conn.execute(insert(wl.worklist), [row])
        w = wl.worklist
        # the projector's rewrite: a new deadline, and its key as of today
        moved = _stored_as_of({**row, "next_at_risk_from": TODAY + 40 * DAY,
                               "next_breach_on": TODAY + 54 * DAY,
                               "next_deadline": TODAY + 53 * DAY}, TODAY)
        conn.execute(w.update().values({k: moved[k] for k in (
            "next_at_risk_from", "next_breach_on", "next_deadline", "urgency_tier",
            "urgency_day", "urgency_cancer", "urgency_from", "urgency_until")}))
    assert refresh_urgency(app.engine, wl.worklist, TODAY) == 0  # it holds: nothing stale
    with app.engine.begin() as conn:
        conn.execute(w.update().values(urgency_until=TODAY))  # made stale by hand
        # between the read and the update, the projector writes again
        real_execute = conn.execute
        calls = []

        def rewrite_between(statement, *args, **kwargs):
            if calls == ["select"]:
                real_execute(w.update().values(next_breach_on=TODAY + 60 * DAY))
            calls.append("select" if not calls else "update")
            return real_execute(statement, *args, **kwargs)

        conn.execute = rewrite_between
        assert refresh_batch(conn, wl.worklist, TODAY, None, 100)[:2] == (1, 0)
        conn.execute = real_execute
        kept = conn.execute(select(w.c.urgency_until, w.c.next_breach_on)).one()
    assert kept == (TODAY, TODAY + 60 * DAY)  # not overwritten with a key of old dates
    app.close()
