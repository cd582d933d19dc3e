"""What a patient reads on their own referral page (docs/patients.md "What a patient sees"),
signed in with the code the outbox holds, on SQLite and PostgreSQL: "Your plan while you
wait" without a plan (said plainly, the GP practice by name, 111 and 999) and with one (the
self-care agreed in plain English, the team's note, the support offered, whom to call by
name), a later plan replacing it, a closed referral showing none; and "How long you may
wait" when it is known (half and most, and what it was counted from: how many people, the
specialty and the hospital by name) and when it was widened to every priority (said so).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import re

import pytest
from sqlalchemy import select

from guardian.domain import codes
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport
from guardian.notifications.schema import notifications
from guardian.projections.patient_view import IF_WORSE, NO_PLAN

BORN = dt.date(1960, 5, 1)
NHS = "9995260182"
PRACTICE_NAME = "Synthetic Basildon Town Centre Surgery (demo)"  # Y90001
HOSPITAL = "Mid and South Essex NHS Foundation Trust"  # RAJ


def refer(guardian, pathway_id="P-1", priority=1, nhs=NHS, **changes):
    """A referral to Cardiology at RAJ from the practice Y90001, waiting 84 days."""
    today = guardian.today()
    start = today - dt.timedelta(days=84)
    facts = dict(
        provider="RAJ", pathway_id=pathway_id, nhs_number=nhs, birth_date=BORN,
        practice_code="Y90001", treatment_function="320", priority=priority,
        waiting_list_type="ORTT", received_on=start, clock_start=start, as_of=today,
        given_name="Ada", family_name="Example", email="ada@example.invalid")
    facts.update(changes)
    [outcome] = guardian.apply_reports([ReferralReport(**facts)])
    return outcome.patient_id


def sign_in(client, guardian) -> None:
    """The patient's sign-in as a browser does it: details, then the code sent to them."""
    details = {"nhs_number": NHS, "day": str(BORN.day), "month": str(BORN.month),
               "year": str(BORN.year)}
    page = client.get("/my/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    asked = client.post("/my/sign-in", data={**details, "csrf_token": token},
                        follow_redirects=False)
    assert asked.status_code == 303, asked.text[:300]
    with guardian.engine.connect() as conn:
        context = conn.execute(select(notifications.c.context).where(
            notifications.c.kind == "sign-in-code").order_by(notifications.c.id.desc())
        ).scalar_one()
    done = client.post("/my/code", data={**details, "code": json.loads(context)["code"],
                                         "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/my", done.text[:300]


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, css: str) -> str:
    """The text of the page's part with this class ("" when the page has none)."""
    found = re.search(rf'<(section|div) class="{css}"[^>]*>(.*?)</\1>', page, re.S)
    return text_of(found.group(2)) if found else ""


def referral_page(client, pathway_id="P-1") -> str:
    page = client.get(f"/my/referrals/RAJ/{pathway_id}")
    assert page.status_code == 200
    return page.text


def test_without_a_plan_the_page_says_so_names_the_practice_and_gives_111_and_999(client):
    guardian = client.app.state.guardian
    pid = refer(guardian)
    guardian.offer_support(pid, "s1", "smoking-cessation", "Booked for Tuesday",
                           provider="RAJ", pathway_id="P-1")
    sign_in(client, guardian)
    plan = section(referral_page(client), "guardian-my-plan")
    assert plan == " ".join([
        "Your plan while you wait", NO_PLAN,
        "Support for you", "Support while you wait: Stop smoking service. Booked for Tuesday.",
        "If you feel worse", f"If you feel worse, call your GP practice, {PRACTICE_NAME}.",
        *IF_WORSE])
    assert "111" in plan and "999" in plan
    listed = text_of(client.get("/my").text)
    assert "You have waited 12 weeks so far. You have no plan while you wait yet." in listed
    wait = section(referral_page(client), "guardian-my-wait")
    assert wait == ("You have waited 12 weeks so far. We cannot say how long you may wait "
                    "yet. Not enough people have finished waiting for this care at this "
                    "hospital lately.")


def test_the_plan_shows_its_self_care_note_and_whom_to_call_and_a_new_one_replaces_it(
        client):
    guardian = client.app.state.guardian
    pid = refer(guardian)
    today = guardian.today()
    guardian.agree_care_plan(pid, "RAJ", "P-1", ["pain-relief", "keep-active"], "hospital",
                             by="sam@guardian.test", note="Ring us if <the pain> wakes you.")
    sign_in(client, guardian)
    page = referral_page(client)
    assert "Ring us if &lt;the pain&gt; wakes you." in page  # the note is text, never markup
    plan = section(page, "guardian-my-plan")
    assert plan == " ".join([
        "Your plan while you wait",
        f"You agreed this plan with the Guardian team on {today.day} {today:%B %Y}.",
        "Things you can do", codes.SELF_CARE_ADVICE["keep-active"],
        codes.SELF_CARE_ADVICE["pain-relief"],
        "A note from the Guardian team: Ring us if <the pain> wakes you.",
        "If you feel worse", f"If you feel worse, call the Cardiology team at {HOSPITAL}. "
                             "Their number is on your letters from the hospital.", *IF_WORSE])
    listed = text_of(client.get("/my").text)
    assert f"You have a plan while you wait, agreed on {today.day} {today:%B %Y}." in listed

    guardian.agree_care_plan(pid, "RAJ", "P-1", ["wellbeing"], "guardian",
                             by="sam@guardian.test")
    plan = section(referral_page(client), "guardian-my-plan")
    assert codes.SELF_CARE_ADVICE["wellbeing"] in plan
    assert codes.SELF_CARE_ADVICE["keep-active"] not in plan and "A note" not in plan
    assert (f"If you feel worse, call the Guardian team. Call your GP practice, "
            f"{PRACTICE_NAME}, and ask for them.") in plan
    assert "Cardiology team" not in plan

    guardian.close_pathway(pid, "RAJ", "P-1", "treated-elsewhere")
    page = referral_page(client)
    assert section(page, "guardian-my-plan") == "" and "Your plan while you wait" not in page
    assert codes.SELF_CARE_ADVICE["wellbeing"] not in page and NO_PLAN not in page
    assert "This referral is closed since" in text_of(page)
    assert "plan while you wait" not in text_of(client.get("/my").text)


_numbers = (f"{n}{c}" for n in itertools.count(999_300_001)
            if (c := nhs_check_digit(str(n))) is not None)


def completed(guardian, count: int, priority: int, tf: str = "320") -> None:
    """`count` waits that ended 10 days ago at RAJ, of 70, 77, 84 … days."""
    ended = guardian.today() - dt.timedelta(days=10)
    guardian.apply_reports([ReferralReport(
        provider="RAJ", pathway_id=f"DONE-{priority}-{n}", nhs_number=next(_numbers),
        birth_date=BORN, practice_code="Y90002", treatment_function=tf, priority=priority,
        waiting_list_type="ORTT", received_on=ended - dt.timedelta(days=70 + 7 * n),
        clock_start=ended - dt.timedelta(days=70 + 7 * n), clock_end=ended,
        rtt_status="30", as_of=guardian.today()) for n in range(count)])


@pytest.mark.parametrize("priority,kind", [(2, "an urgent"), (3, "an urgent suspected cancer")])
def test_the_expected_wait_says_half_most_and_its_basis_and_when_it_counts_everyone(
        client, priority, kind):
    """8 routine waits of 10 to 17 weeks ended 10 days ago: the median is 13.5 weeks, the
    92nd percentile 16.4. The routine referral reads them as they are; the other one, with
    none of its own priority, reads the same numbers counted over every priority, and is
    told so."""
    guardian = client.app.state.guardian
    refer(guardian, "P-1", priority=1)
    refer(guardian, "P-2", priority=priority)
    completed(guardian, 8, priority=1)
    completed(guardian, 2, priority=1, tf="330")  # another specialty: not counted
    client.app.state.runner.run_once()
    sign_in(client, guardian)
    today = guardian.today()
    basis = (f"This is from 8 people who waited for Cardiology at {HOSPITAL}. They stopped "
             f"waiting in the 26 weeks to {today.day} {today:%B %Y}.")
    known = ("You have waited 12 weeks so far. Half of people wait 14 weeks or less. "
             "Most people (92 in 100) wait 16 weeks or less.")
    assert section(referral_page(client, "P-1"), "guardian-my-wait") == f"{known} {basis}"
    assert section(referral_page(client, "P-2"), "guardian-my-wait") == (
        f"{known} {basis} We counted all the people who waited for this care at this "
        f"hospital. Not just those with {kind} referral like yours. Too few of them stopped "
        "waiting lately.")
