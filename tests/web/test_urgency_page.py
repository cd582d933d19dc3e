"""The worklist's default order on the demo (docs/rules.md §11): every breach and every
deterioration recorded today is on the first page, before any older breach; opening the
patient makes their news no longer new."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select
from web_helpers import sign_in

from guardian.demo import load_demo
from guardian.projections import worklist as wl
from guardian.waits import check_waits

pytestmark = pytest.mark.one_backend  # the SQL order is checked on both in tests/projections


@pytest.fixture
def demo(client):
    guardian = client.app.state.guardian
    load_demo(guardian, patients=600, seed=21)
    client.app.state.runner.run_once()
    check_waits(guardian, guardian.today())  # the start-up sweep: today's breaches
    client.app.state.runner.run_once()
    return guardian


def scoped_rows(guardian) -> list:
    with guardian.engine.connect() as conn:
        return list(conn.execute(select(wl.worklist).where(
            wl.worklist.c.pcn_code.in_(["U90001", "U90002"]))))


def recorded_today(guardian) -> set[str]:
    """Pathways of the coordinator's PCNs with a breach dated today or a deterioration
    raised today, found from the patients themselves (not from the worklist's columns)."""
    today = guardian.today()
    rows = {(r.provider, r.pathway_id): r for r in scoped_rows(guardian)}
    patients = guardian.load_patients({uuid.UUID(r.patient_id) for r in rows.values()})
    found = set()
    for patient in patients.values():
        for key, p in patient.pathways.items():
            if key not in rows:
                continue
            flags = [f for f in patient.flags.values() if f.raised_on == today
                     and f.reviewed_on is None and f.pathway in (key, None)]
            if today in p.breaches.values() or flags:
                found.add(f"{key[0]}-{key[1]}")
    return found


def test_the_first_page_holds_todays_news_before_any_older_breach(client, demo):
    today = recorded_today(demo)
    assert today, "the demo should record something today"
    sign_in(client, "coordinator")
    page = client.get("/worklist").text
    ids = re.findall(r'id="row-([^"]+)"', page)
    states = re.findall(r'class="guardian-row guardian-row--([a-z-]+)', page)
    assert today <= set(ids), "every pathway with news of today is on the first page"
    last_of_today = max(ids.index(i) for i in today)
    older_breaches = [n for n, (i, s) in enumerate(zip(ids, states, strict=True))
                      if s == "breached" and i not in today]
    assert all(n > last_of_today for n in older_breaches)
    assert page.count(">New</strong>") >= len(today)


def test_opening_the_patient_sees_the_news(client, demo):
    sign_in(client, "coordinator")
    page = client.get("/worklist?filter=new").text
    first = re.search(r'id="row-([^"]+)"', page).group(1)
    href = re.search(r'<a class="nhsuk-link" href="(/patients/[0-9a-f]+)"', page).group(1)
    opened = client.get(href)
    assert "since the patient was last opened" in opened.text  # said once, on that visit
    assert "since the patient was last opened" not in client.get(href).text
    client.app.state.runner.run_once()  # what the server's follower does within a second
    after = client.get("/worklist?filter=new").text
    assert f'id="row-{first}"' not in after
    patient = demo.get_patient(uuid.UUID(href.rsplit("/", 1)[1]))
    assert not any(p.unseen_breaches for p in patient.pathways.values())


def test_a_gp_opening_the_patient_leaves_the_news_new(client, demo):
    gp_rows = [r for r in scoped_rows(demo) if r.news_on is not None
               and r.practice_code == "Y90001"]
    assert gp_rows, "the demo should have news at the GP's practice"
    sign_in(client, "gp")
    assert client.get(f"/patients/{gp_rows[0].patient_id}").status_code == 200
    [row] = [r for r in scoped_rows(demo) if (r.provider, r.pathway_id) == (
        gp_rows[0].provider, gp_rows[0].pathway_id)]
    assert row.news_on is not None
