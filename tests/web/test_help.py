"""Help: the glossary is for anyone signed in, each term with its own anchor; every link a
page makes to it (the `term` macro of _help.html) names an entry that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_helpers import sign_in

from guardian.web.routes.help import ANCHORS, GLOSSARY
from guardian.web.templating import make_templates

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
