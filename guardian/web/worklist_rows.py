"""The worklist page's rows as its table shows them (guardian/web/templates/worklist.html):
`present_row`'s words, waits and states, plus every name and phrase of a row worked out once
in Python (the provider's, practice's and coordinator's names from the page's one `Names`,
the "needs attention" sentence), so that the template does no filter call or list building
per row. Each row is an object with attributes, which Jinja reads directly (a dict's keys
are found only after an attribute lookup has failed). docs/access.md: a disabled
coordinator's pathways read as unassigned.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from guardian.projections.name_queries import Names
from guardian.web.present import present_row


def needs_attention(r: dict[str, Any], today: dt.date) -> str:
    """What a row's "Needs attention" cell says besides a deterioration, as one sentence:
    "Workup: 2 outstanding; check-in due"."""
    needs = []
    if r["workup_outstanding"]:
        needs.append(f"workup: {r['workup_outstanding']} outstanding")
    if r["diagnostics_outstanding"]:
        needs.append(f"tests awaiting result: {r['diagnostics_outstanding']}")
    if r["unanswered_messages"]:
        needs.append(f"messages unanswered: {r['unanswered_messages']} "
                     f"({r['unanswered_days']} days)")
    if r["awaiting_reply_since"]:
        needs.append(f"message sent, awaiting reply ({(today - r['awaiting_reply_since']).days}"
                     " days)")
    if r["check_in_due"] and r["check_in_due"] <= today:
        needs.append("check-in due")
    if r["left_list_on"]:
        needs.append("left the hospital list " + r["left_list_on"].strftime("%-d %b"))
    text = "; ".join(needs)
    return text[:1].upper() + text[1:]


def shown_rows(rows: list[dict[str, Any]], today: dt.date, gone: frozenset[str],
               names: Names) -> list[SimpleNamespace]:
    """The page's rows, ready for the table."""
    shown = []
    for row in rows:
        r = present_row(row, today, gone)
        r["provider_label"] = names.provider(r["provider"])
        r["practice_label"] = names.practice(r["practice_code"])
        r["coordinator_label"] = names.person(r["coordinator"])
        r["needs_text"] = needs_attention(r, today)
        shown.append(SimpleNamespace(**r))
    return shown
