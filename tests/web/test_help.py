"""Help: the glossary is for anyone signed in, each term with its own anchor; every link a
page makes to it (the `term` macro of _help.html) names an entry that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_helpers import sign_in

from guardian.web.routes.help import ANCHORS, GLOSSARY
from guardian.web.templating import make_templates

# One backend: the glossary and its links are pages, not queries.
pytestmark = pytest.mark.one_backend

TEMPLATES = Path(__file__).resolve().parents[2] / "guardian" / "web" / "templates"
WANTED = {"rtt", "clock-start", "clock-stop", "pathway", "ptl", "p-codes", "fds", "62-day",
          "urgent-suspected-cancer", "at-risk", "breached", "check-in", "workup",
          "deterioration-flag", "pcn", "place", "ubrn", "small-number-suppression"}


@pytest.mark.parametrize("role", ["coordinator", "gp", "place-lead", "admin"])
def test_anyone_signed_in_reads_the_glossary_with_an_anchor_per_term(client, role):
    assert sign_in(client, role).status_code == 303
    page = client.get("/help/glossary")
    assert page.status_code == 200
    ids = set(re.findall(r'<h2 id="([^"]+)"', page.text))
    assert ids == ANCHORS and ids >= WANTED
    for entry in GLOSSARY:
        assert f'href="#{entry.anchor}"' in page.text  # the contents list
    assert 'href="/help/glossary">Help</a>' in page.text  # the footer, on every page
    assert 'href="/help/glossary">Help</a>' in client.get("/").text
    assert client.get("/help", follow_redirects=False).headers["location"] == "/help/glossary"


def test_the_glossary_asks_who_is_reading_first(client):
    answer = client.get("/help/glossary", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_each_entry_is_plain_sentences():
    for entry in GLOSSARY:
        assert entry.meaning.endswith(".") and entry.meaning[0].isupper(), entry.term
        assert len(entry.meaning) < 420, entry.term  # a few sentences, not a manual


def test_the_term_macro_links_to_its_entry():
    env = make_templates().env
    macro = env.from_string('{% from "_help.html" import term %}'
                            '{{ term("At risk") }}|{{ term("Check-in due", "check-in") }}')
    assert macro.render() == (
        '<a href="/help/glossary#at-risk" class="guardian-term">At risk</a>|'
        '<a href="/help/glossary#check-in" class="guardian-term">Check-in due</a>')


def term_anchors(source: str) -> list[str]:
    """The anchors of every term() call in a template."""
    found = []
    for text, anchor in re.findall(r'term\(\s*"([^"]+)"\s*(?:,\s*"([^"]+)")?\s*\)', source):
        found.append(anchor or text.lower().replace(" ", "-"))
    return found


def test_every_term_a_template_links_is_in_the_glossary():
    linked = {}
    for path in TEMPLATES.glob("*.html"):
        if path.name == "_help.html":
            continue
        for anchor in term_anchors(path.read_text()):
            linked.setdefault(anchor, []).append(path.name)
    unknown = {a: where for a, where in linked.items() if a not in ANCHORS}
    assert not unknown, f"terms linked with no glossary entry: {unknown}"


def test_the_worklist_and_the_gp_page_link_their_words_to_the_glossary(client):
    assert sign_in(client, "coordinator").status_code == 303
    worklist = client.get("/worklist").text
    for anchor in ("breached", "at-risk", "deterioration-flag", "workup", "check-in"):
        assert f'href="/help/glossary#{anchor}"' in worklist, anchor
    assert sign_in(client, "gp").status_code == 303
    gp = client.get("/gp").text
    for anchor in ("breached", "at-risk", "workup", "urgent-suspected-cancer"):
        assert f'href="/help/glossary#{anchor}"' in gp, anchor


def test_a_patient_page_with_a_missed_standard_links_it_to_the_glossary(client, demo):
    from sqlalchemy import select

    from guardian.projections.worklist import worklist
    from guardian.waits import check_waits

    check_waits(demo, demo.today())  # the sweep records the breaches
    client.app.state.runner.run_once()
    with demo.engine.connect() as conn:
        breached = conn.execute(select(worklist.c.patient_id).distinct()
                                .where(worklist.c.next_breach_on <= demo.today())
                                .limit(30)).scalars().all()
    assert sign_in(client, "admin").status_code == 303
    pages = (client.get(f"/patients/{pid}").text for pid in breached)
    page = next((p for p in pages if "Standards missed" in p), None)
    assert page is not None, "no breached pathway of the demo lists a missed standard"
    assert 'href="/help/glossary#breached" class="guardian-term">Standards missed</a>' in page
    assert 'href="/help/glossary#breached" class="guardian-term">Breached</a>' in page
    assert 'href="/help/glossary#at-risk" class="guardian-term">At risk</a>' in page
