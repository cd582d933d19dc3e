"""The patients' pages read at a reading age of about 9 (docs/patients.md): the sign-in page,
the code page, /my and a referral page, as a patient of the demo cohort sees them, measured
as the letters and emails to patients are (tests/unit/test_patient_reading_age.py: the
Flesch-Kincaid grade of the text, plus five years, at most 9). What is measured is what a
person reads: the text of the page's elements, each block (a heading, a paragraph, a list
item, a label, a button) its own line, as the measure splits sentences at line ends."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from test_my_pages import details, form_token, last_code
from visible_text import visible_lines as read

from guardian.notifications.recipients import patient_channel
from guardian.projections import worklist as wl
from guardian.waits import check_ins

pytestmark = pytest.mark.one_backend  # words on pages: nothing database-specific

MOST = 9.0  # the letters' and emails' limit


def _measure():
    """The reading-age measure of the letters' test, the very same function."""
    path = Path(__file__).resolve().parents[1] / "unit" / "test_patient_reading_age.py"
    spec = importlib.util.spec_from_file_location("patient_reading_age", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reading_age


reading_age = _measure()


def test_the_blocks_are_lines_and_hidden_parts_are_not_read():
    page = ('<html><head><title>T</title><script>var long_words_here;</script></head><body>'
            '<h1>Your referrals</h1><p>You were <a href="/x">referred</a> on 1 May.</p>'
            '<ul><li>One</li><li>Two</li></ul><input value="Incomprehensibility"></body>'
            '</html>')
    assert read(page) == "Your referrals\nYou were referred on 1 May.\nOne\nTwo"


def a_demo_patient(client, demo):
    """A patient of the demo cohort Guardian writes to, and their open referral whose
    Waiting Well check-in is due (so its page shows every form)."""
    check_ins(demo, demo.today())
    client.app.state.runner.run_once()
    with demo.engine.connect() as conn:
        rows = conn.execute(select(wl.worklist.c.patient_id, wl.worklist.c.provider,
                                   wl.worklist.c.pathway_id)
                            .where(wl.worklist.c.check_in_due <= demo.today())
                            .order_by(wl.worklist.c.patient_id)).all()
    for r in rows:
        patient = demo.get_patient(uuid.UUID(hex=r.patient_id))
        if patient_channel(patient):
            return patient, f"/my/referrals/{r.provider}/{r.pathway_id}"
    raise AssertionError("no demo patient with a check-in due to sign in as")


def test_the_patients_pages_read_at_about_9(client, demo):
    patient, referral = a_demo_patient(client, demo)
    nhs, born = patient.nhs_number, patient.birth_date
    pages = {"sign-in": client.get("/my/sign-in")}
    token = form_token(client)
    asked = client.post("/my/sign-in", data={**details(nhs, born), "csrf_token": token})
    pages["code"] = asked
    done = client.post("/my/code", data={**details(nhs, born), "code": last_code(demo),
                                         "csrf_token": token}, follow_redirects=False)
    assert done.headers["location"] == "/my", done.text[:300]
    pages["my"] = client.get("/my")
    assert f'href="{referral}"' in pages["my"].text
    pages["referral"] = client.get(referral)
    ages = {}
    for name, page in pages.items():
        assert page.status_code == 200, name
        text = read(page.text)
        assert len(text.split()) > 40, (name, text)  # a real page, not an error
        ages[name] = round(reading_age(text), 1)
    assert "How long you may wait" in pages["referral"].text
    assert "How are you?" in pages["referral"].text  # the check-in's form is read too
    assert max(ages.values()) <= MOST, ages
