"""The audit log: append-only, written for sign-ins, listed for admins only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from web_helpers import sign_in

from guardian import audit


def test_sign_ins_are_recorded_with_where_from(client, engine):
    sign_in(client, "gp")
    sign_in(client, "nobody@guardian.test", "wrong password")
    ok, failed = audit.entries(engine, action="sign-in")[0], audit.entries(
        engine, action="sign-in-failed")[0]
    assert (ok.user_email, ok.role, ok.client) == ("gp@guardian.test", "gp", "testclient")
    assert ok.user_agent and ok.at.tzinfo is not None
    assert (failed.user_email, failed.role) == ("nobody@guardian.test", None)


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_or_delete_audit_rows(client, engine, sql):
    sign_in(client, "gp")
    before = audit.entries(engine)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    assert audit.entries(engine) == before and before[0].action == "sign-in"


@pytest.mark.parametrize("role", ["coordinator", "gp", "place-lead"])
def test_the_audit_page_is_404_for_everyone_but_admins(client, role):
    sign_in(client, role)
    r = client.get("/admin/audit")
    assert r.status_code == 404 and "Page not found" in r.text


@pytest.mark.one_backend
def test_the_audit_page_needs_a_session(client):
    r = client.get("/admin/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=")


def test_admins_see_the_log_per_user_and_per_patient(client, engine):
    guardian = client.app.state.guardian
    patient = guardian.patient_id("9995260182").hex
    other = guardian.patient_id("9995261561").hex
    for n in range(3):
        audit.record(engine, action="view-patient", email="sam@guardian.test",
                     role="coordinator", patient_id=patient, detail=f"visit {n}")
    audit.record(engine, action="view-patient", email="gp@guardian.test", role="gp",
                 patient_id=other, provider="RAJ", pathway_id="PPI-0001")
    sign_in(client, "admin")
    everything = client.get("/admin/audit")
    assert everything.status_code == 200
    assert "sam@guardian.test" in everything.text and "gp@guardian.test" in everything.text
    by_user = client.get("/admin/audit", params={"user": "SAM@guardian.test"}).text
    assert by_user.count("visit ") == 3 and "PPI-0001" not in by_user
    by_nhs_number = client.get("/admin/audit", params={"patient": "999 526 0182"}).text
    assert by_nhs_number.count("visit ") == 3 and "gp@guardian.test" not in by_nhs_number
    by_id = client.get("/admin/audit", params={"patient": other}).text
    assert "Mid and South Essex NHS Foundation Trust (pathway PPI-0001)" in by_id
    assert "visit " not in by_id
    bad = client.get("/admin/audit", params={"patient": "12345"})
    assert bad.status_code == 400 and "Enter a 10-digit NHS number" in bad.text
    views = audit.entries(engine, action="view-audit")
    assert views and views[0].user_email == "admin@guardian.test"


def test_the_log_is_paged_newest_first(client, engine):
    for n in range(60):
        audit.record(engine, action="view-worklist", email="sam@guardian.test",
                     detail=f"entry-{n:02d}")
    sign_in(client, "admin")
    first = client.get("/admin/audit", params={"action": "view-worklist"}).text
    assert "entry-59" in first and "entry-10" in first and "entry-09" not in first
    assert 'rel="next"' in first
    before = int(first.split("before=")[1].split('"')[0].split("&")[0])
    second = client.get("/admin/audit", params={"action": "view-worklist",
                                                "before": before}).text
    assert "entry-09" in second and "entry-00" in second and "entry-10" not in second
    assert 'rel="next"' not in second


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_filtering_with_htmx_swaps_only_the_results(client, htmx):
    sign_in(client, "admin")
    headers = {"HX-Request": "true"} if htmx else {}
    r = client.get("/admin/audit", params={"user": "admin@guardian.test"}, headers=headers)
    assert r.status_code == 200 and 'id="audit-results"' in r.text
    assert ("<html" in r.text) is (not htmx)
    assert ("<h1>Audit log</h1>" in r.text) is (not htmx)


def test_a_bad_query_value_on_a_page_is_a_400_page_not_json(client):
    sign_in(client, "admin")
    r = client.get("/admin/audit", params={"before": "yesterday"})
    assert r.status_code == 400 and "that address is not valid" in r.text
    assert "before" in r.text and "Traceback" not in r.text


def test_what_a_request_sends_is_bounded_in_the_log(client, engine):
    """One audit entry cannot grow the append-only log without bound, nor be refused (and
    its action with it) for a value longer than its column."""
    audit.record(engine, action="view-referral", email="sam@guardian.test",
                 detail="x" * 50_000, pathway_id="P" * 500, provider="R" * 40,
                 client="c" * 300)
    entry = audit.entries(engine, action="view-referral")[0]
    assert len(entry.detail) == audit.DETAIL_LIMIT
    assert entry.detail.endswith(audit.TRUNCATED) and entry.detail.startswith("x" * 900)
    assert (len(entry.pathway_id), len(entry.provider), len(entry.client)) == (64, 8, 64)
    short = "a detail of ordinary length"
    audit.record(engine, action="view-worklist", email="sam@guardian.test", detail=short)
    assert audit.entries(engine, action="view-worklist")[0].detail == short
