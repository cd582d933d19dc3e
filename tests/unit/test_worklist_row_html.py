"""The worklist's rows written in Python (guardian/web/worklist_rows.py `row_html`) say what
the page's Jinja template said, escaped the same way: each row state and hostile text in
every field, rendered both ways and compared (tests/unit/fixtures/worklist_row.html is the
template's row as it was)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from guardian.projections.name_queries import Names
from guardian.web.worklist_rows import presented_rows, shown_rows

TODAY = dt.date(2026, 12, 5)
HOSTILE = "O'Brien <script>alert(\"x\")</script> & co"
FIXTURES = Path(__file__).parent / "fixtures"


def worklist_row(n: int, **over) -> dict:
    row = {
        "provider": "RAJ", "pathway_id": f"P-{n}", "patient_id": f"{n:032x}",
        "nhs_number": "9990000018", "birth_date": dt.date(1950, 6, 1),
        "given_name": "Ann", "family_name": "Smith", "stage": "awaiting-first-appointment",
        "treatment_function": "100", "priority": 1, "procedure_priority": None,
        "wait_from": TODAY - dt.timedelta(days=100), "practice_code": "Y90001",
        "pcn_code": "U90001", "coordinator": None, "news_on": None,
        "next_standard": "rtt-18", "next_deadline": TODAY + dt.timedelta(days=20),
        "next_breach_on": TODAY + dt.timedelta(days=21),
        "next_at_risk_from": TODAY + dt.timedelta(days=5),
        "deterioration_since": None, "oldest_unanswered_on": None,
        "workup_outstanding": 0, "diagnostics_outstanding": 0, "unanswered_messages": 0,
        "awaiting_reply_since": None, "check_in_due": None, "left_list_on": None,
    }
    return {**row, **over}


def variants() -> list[dict]:
    breached = {"next_breach_on": TODAY - dt.timedelta(days=3),
                "next_deadline": TODAY - dt.timedelta(days=4)}
    at_risk = {"next_at_risk_from": TODAY - dt.timedelta(days=1)}
    none = {"next_standard": None, "next_deadline": None, "next_breach_on": None,
            "next_at_risk_from": None}
    needs = {"workup_outstanding": 2, "diagnostics_outstanding": 1, "unanswered_messages": 1,
             "oldest_unanswered_on": TODAY - dt.timedelta(days=3),
             "awaiting_reply_since": TODAY - dt.timedelta(days=9), "check_in_due": TODAY,
             "left_list_on": TODAY - dt.timedelta(days=2)}
    hostile = {"given_name": HOSTILE, "family_name": HOSTILE, "pathway_id": HOSTILE,
               "procedure_priority": "P2 <b>", "next_standard": "local-<i>standard</i>",
               "coordinator": "x'y@example.nhs.uk"}
    others = [{}, {"news_on": TODAY}, {"deterioration_since": TODAY - dt.timedelta(days=2)},
              {"coordinator": "sam@guardian.test"}, {"coordinator": "gone@guardian.test"},
              {"priority": 4, "procedure_priority": "P2"},
              {"given_name": None, "family_name": None}]  # nameless: as the template wrote it
    rows = []
    for n, parts in enumerate(itertools.product([{}, breached, at_risk, none],
                                                [{}, needs], others + [hostile])):
        over = {}
        for part in parts:
            over.update(part)
        rows.append(worklist_row(n, **over))
    return rows


def squeeze(html: str) -> str:
    """Whitespace beside tags is layout only: the two writers differ in it."""
    return re.sub(r"\s*(<[^>]+>)\s*", r"\1", html).strip()


@pytest.fixture(scope="module")
def template():
    env = Environment(loader=FileSystemLoader(FIXTURES), autoescape=select_autoescape())
    return env.get_template("worklist_row.html")


def test_each_row_reads_as_the_template_wrote_it(template):
    names = Names(providers={"RAJ": "Mid & South <Essex>"}, practices={"Y90001": HOSTILE},
                  pcns={})
    gone = frozenset({"gone@guardian.test"})
    rows = shown_rows(variants(), TODAY, gone, names)
    assert len(rows) == 64
    python = "".join(r.html for r in rows)
    jinja = template.render(rows=[SimpleNamespace(**r) for r in presented_rows(
        variants(), TODAY, gone, names)])
    assert squeeze(python) == squeeze(jinja)


def test_hostile_text_is_escaped_everywhere(template):
    (row,) = shown_rows([worklist_row(1, given_name=HOSTILE, family_name=HOSTILE,
                                      pathway_id=HOSTILE)], TODAY, frozenset(), Names())
    assert "<script>" not in row.html and "alert(&#34;x&#34;)" in row.html
    assert "O&#39;BRIEN &lt;SCRIPT&gt;" in row.html  # the family name in capitals
    assert 'id="row-RAJ-O&#39;Brien &lt;script&gt;' in row.html
