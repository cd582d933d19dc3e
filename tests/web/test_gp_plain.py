"""The status page a GP sees states each referral in plain English at the top of its card
(guardian/projections/plain.py): the expected wait, what the practice still needs to do and
what happens next; the practice overview puts the practice's own workup first, overdue
first, with its counts in words (docs/journeys.md, "The GP practice")."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from sqlalchemy import select
from web_helpers import referred_patient, sign_in

from guardian.demo import load_demo
from guardian.domain.report import ReferralReport
from guardian.projections import worklist as wl
from guardian.projections.plain import date_text, plain_status
from guardian.projections.status import referral_status
from guardian.store import organisations
from guardian.web.routes.gp import counts_in_words, owed_in_words

# One backend: the plain-English texts; their queries are the status read model's, tested on both.
pytestmark = pytest.mark.one_backend


def text_of(page: str) -> str:
    """The page's words, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def card_of(page: str, provider: str, pathway_id: str) -> str:
    start = page.index(f'id="pathway-{provider}-{pathway_id}"')
    return text_of(page[start:page.index("</section>", start)])


def test_gp_status_page_states_the_referral_in_plain_english(client):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian)  # at the GP's practice, waiting 30 days
    today = guardian.today()
    asked = today - dt.timedelta(days=20)
    guardian.require_workup_item(uuid.UUID(pid), "RAJ", "INPUT-1", "w1",
                                 "Photographs of the lesion", "practice", on=asked)
    client.app.state.runner.run_once()
    sign_in(client, "gp")
    r = client.get(f"/patients/{pid}")
    assert r.status_code == 200
    card = card_of(r.text, "RAJ", "INPUT-1")
    due = today - dt.timedelta(days=30 - 14)  # the workup is due 14 days from the referral
    for sentence in ("Expected wait", "The patient has waited 4 weeks so far.",
                     "We cannot estimate the wait yet.",  # no completed waits in this store
                     "What the practice still needs to do Overdue",
                     f"Photographs of the lesion: asked for on {date_text(asked)}. This is "
                     f"overdue (it was due by {date_text(due)}).",
                     "What happens next When the practice has done this, the hospital can "
                     "book a first appointment."):
        assert sentence in card, sentence
    assert card.index("Expected wait") < card.index("Still to do") < card.index("Timeline")
    plain = card[card.index("Expected wait"):card.index("Still to do")]
    assert "RAJ" not in plain and "INPUT-1" not in plain  # no code in the plain text

    # marked done: nothing owed, and the coordinator reads the same sentences
    guardian.complete_workup_item(uuid.UUID(pid), "RAJ", "INPUT-1", "w1", by="gp", on=today)
    r = client.get(f"/patients/{pid}")
    assert "The practice does not need to do anything for this referral." in text_of(r.text)
    sign_in(client, "coordinator")
    coordinator = card_of(client.get(f"/patients/{pid}").text, "RAJ", "INPUT-1")
    assert "The practice does not need to do anything for this referral." in coordinator
    assert "Record a test ordered" in coordinator  # the coordinator's actions are still there


def test_demo_patients_read_in_plain_english(client):
    guardian = client.app.state.guardian
    load_demo(guardian, patients=300, seed=11)
    client.app.state.runner.run_once()
    with guardian.engine.connect() as conn:
        rows = list(conn.execute(select(wl.worklist).where(
            wl.worklist.c.practice_code == "Y90001")))
    assert rows, "no demo patient at the GP's practice"
    sign_in(client, "gp")
    today = guardian.today()
    for row in rows[:6]:
        page = client.get(f"/patients/{row.patient_id}")
        assert page.status_code == 200
        card = card_of(page.text, row.provider, row.pathway_id)
        patient = guardian.get_patient(uuid.UUID(row.patient_id))
        with guardian.engine.connect() as conn:
            status = referral_status(patient, row.provider, row.pathway_id, today,
                                     conn=conn, table=guardian.settings.standards)
        said = plain_status(status, patient.pathway(row.provider, row.pathway_id), today)
        for sentence in said.sentences():
            assert sentence in card, (sentence, card)
        assert re.search(r"The patient has waited \d+ weeks? so far\.", card)


def recent_referral(guardian, pathway_id: str, nhs_number: str, received: dt.date) -> str:
    report = ReferralReport(
        provider="RAJ", pathway_id=pathway_id, nhs_number=nhs_number,
        birth_date=dt.date(1971, 2, 3), practice_code="Y90001", treatment_function="330",
        priority=1, waiting_list_type="ORTT", received_on=received, clock_start=received,
        as_of=guardian.today(), given_name="Bea", family_name="O'Neill-Ramasubramanian")
    [outcome] = guardian.apply_reports([report])
    return outcome.patient_id.hex


def test_gp_overview_puts_the_practice_workup_first(client):
    guardian = client.app.state.guardian
    today = guardian.today()
    late, _ = referred_patient(guardian, "LATE-1", "9995260182")  # referred 30 days ago
    fresh = recent_referral(guardian, "FRESH-1", "9990000018", today - dt.timedelta(days=3))
    guardian.require_workup_item(uuid.UUID(late), "RAJ", "LATE-1", "w1", "X-ray of the knee",
                                 "practice", on=today - dt.timedelta(days=20))
    guardian.require_workup_item(uuid.UUID(fresh), "RAJ", "FRESH-1", "w1", "Recent FBC",
                                 "practice", on=today - dt.timedelta(days=2))
    client.app.state.runner.run_once()
    sign_in(client, "gp")
    r = client.get("/gp")
    assert r.status_code == 200
    words = text_of(r.text)
    attention = words[words.index("Needs your attention first"):]
    assert "The practice owes workup on 2 referrals; 1 of them is overdue." in attention
    # overdue first, then the rest; each says what and since when
    assert attention.index("X-ray of the knee") < attention.index("Recent FBC")
    assert f"asked for on {date_text(today - dt.timedelta(days=20))}" in attention
    assert "2 referrals are waiting." in words
    with guardian.engine.connect() as conn:
        practice = conn.execute(select(organisations.c.practice_name).where(
            organisations.c.practice_code == "Y90001")).scalar()
    assert practice and f"{practice} (Y90001)" in words  # the practice by name, code beside
    assert "None has waited more than 18 weeks." in words
    assert "O'NEILL-RAMASUBRAMANIAN, Bea" in attention  # family name first, in capitals


def test_counts_and_workup_in_words():
    def row(state=None, days=10):
        return {"deadline_state": state, "waited_days": days}

    assert counts_in_words([]) == ["No referrals are waiting."]
    assert counts_in_words([row("breached", 200), row("at-risk"), row()]) == [
        "3 referrals are waiting.", "1 has waited more than 18 weeks.",
        "1 has missed a waiting-time target.", "1 is at risk of missing one soon."]
    assert counts_in_words([row()])[0] == "1 referral is waiting."
    assert owed_in_words([]) == "The practice owes no workup at the moment."
    assert owed_in_words([{"overdue": True}]) == ("The practice owes workup on 1 referral; "
                                                  "it is overdue.")
    assert owed_in_words([{"overdue": False}]).endswith("1 referral; it is not overdue yet.")
    assert owed_in_words([{"overdue": False}] * 3).endswith("3 referrals; none is overdue.")
    assert owed_in_words([{"overdue": True}] * 2 + [{"overdue": False}]).endswith(
        "3 referrals; 2 of them are overdue.")
