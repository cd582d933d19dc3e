"""The worklist page's rows as its table shows them (guardian/web/templates/worklist.html):
`present_row`'s words, waits and states, plus every name and phrase of a row worked out once
in Python (the provider's, practice's and coordinator's names from the page's one `Names`,
the "needs attention" sentence), so that the template does no filter call or list building
per row. docs/access.md: a disabled coordinator's pathways read as unassigned.

Each row's table row (`<tr>`) is written here too, by `row_html`: 50 rows of about 30 values
each cost the template 1,500 escapes through Markup objects and as many context lookups,
most of a worklist page's rendering time; written here with the same escaping, as plain
text, each value costs about a tenth of that (bench/README.md, "The web layer's own cost").
The rest of the page stays in the template.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup, escape

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


def presented_rows(rows: list[dict[str, Any]], today: dt.date, gone: frozenset[str],
                   names: Names) -> list[dict[str, Any]]:
    """Each row with every value its table row shows (`present_row`'s, the names, the
    "needs attention" sentence)."""
    shown = []
    for row in rows:
        r = present_row(row, today, gone)
        r["provider_label"] = names.provider(r["provider"])
        r["practice_label"] = names.practice(r["practice_code"])
        r["coordinator_label"] = names.person(r["coordinator"])
        r["needs_text"] = needs_attention(r, today)
        shown.append(r)
    return shown


def shown_rows(rows: list[dict[str, Any]], today: dt.date, gone: frozenset[str],
               names: Names) -> list[SimpleNamespace]:
    """The page's rows, ready for the table: each its `html`, all the template reads."""
    return [SimpleNamespace(html=Markup(row_html(r, n))) for n, r in
            enumerate(presented_rows(rows, today, gone, names), start=1)]


try:  # markupsafe's own escaping, as plain text (escape() wraps each value in a Markup)
    from markupsafe._speedups import _escape_inner as _text_escape
except ImportError:  # pragma: no cover - markupsafe without its C speedups
    def _text_escape(s: str) -> str:
        return str(escape(s))


def _e(value: Any) -> str:
    """A value as the template would write it: its text, HTML-escaped as Jinja does."""
    return _text_escape(value if isinstance(value, str) else str(value))


def _deadline_cell(r: dict[str, Any]) -> str:
    if not r["next_deadline"]:
        return '<span class="guardian-muted">None tracked</span>'
    state = r["deadline_state"]
    tag = ('<strong class="nhsuk-tag nhsuk-tag--red">Breached</strong> ' if state == "breached"
           else '<strong class="nhsuk-tag nhsuk-tag--orange">At risk</strong> '
           if state == "at-risk" else "")
    when = (f'breached {r["next_breach_on"].strftime("%-d %b %Y")}' if state == "breached"
            else f'by {r["next_deadline"].strftime("%-d %b %Y")}')
    return (f'{tag}<span title="{_e(r["deadline_label"])}">{_e(r["deadline_short"])}</span>'
            f'<br><span class="guardian-muted">{when}</span>')


def row_html(r: dict[str, Any], index: int) -> str:
    """One row of the worklist table (`index` from 1 names its checkbox)."""
    new = r["is_new"]
    names = f'{_e(r["given_name"])} {_e(r["family_name"])}'
    attention = ""
    if r["deterioration_since"]:
        attention = ('<strong class="nhsuk-tag nhsuk-tag--red">Deterioration</strong> '
                     f'{r["deterioration_days"]} days' + ("<br>" if r["needs_text"] else ""))
    coordinator = (f'Unassigned <span class="guardian-muted">({_e(r["coordinator_label"])} '
                   'has left)</span>' if r["coordinator_gone"]
                   else _e(r["coordinator_label"] or "Unassigned"))
    procedure = f' · {_e(r["procedure_priority"])}' if r["procedure_priority"] else ""
    provider = _e(r["provider_label"])
    return (
        f'<tr class="guardian-row guardian-row--{_e(r["deadline_state"])}'
        f'{" guardian-row--new" if new else ""}" id="row-{_e(r["provider"])}-'
        f'{_e(r["pathway_id"])}">\n'
        '<td><div class="nhsuk-checkboxes nhsuk-checkboxes--small">'
        '<div class="nhsuk-checkboxes__item">'
        f'<input class="nhsuk-checkboxes__input" type="checkbox" name="pathway" '
        f'value="{_e(r["key"])}" id="select-{index}">'
        f'<label class="nhsuk-label nhsuk-checkboxes__label" for="select-{index}">'
        f'<span class="nhsuk-u-visually-hidden">Select {names}, {_e(r["tf_name"])}</span>'
        '</label></div></div></td>\n'
        '<td class="guardian-patient">'
        + ('<strong class="nhsuk-tag nhsuk-tag--blue guardian-new">New</strong> ' if new else "")
        + f'<a class="nhsuk-link" href="{_e(r["patient_href"])}">'
        f'{_e(str(r["family_name"]).upper())}, {_e(r["given_name"])}</a><br>'
        f'<span class="guardian-muted"><span class="guardian-id">{_e(r["nhs_formatted"])}'
        f'</span> · {r["age"]} years</span></td>\n'
        f'<td>{_e(r["tf_name"])} · {_e(r["priority_label"])}{procedure}'
        f'<span class="guardian-muted guardian-clip" title="{provider}">{provider}</span></td>\n'
        f'<td class="guardian-practice">{_e(r["practice_label"])}</td>\n'
        f'<td>{_e(r["stage_label"])}<br><span class="guardian-muted">{r["waited_weeks"]} weeks '
        f'({r["waited_days"]} days)</span></td>\n'
        f'<td class="guardian-deadline">{_deadline_cell(r)}</td>\n'
        f'<td class="guardian-attention">{attention}{_e(r["needs_text"])}</td>\n'
        f'<td>{coordinator}</td>\n</tr>\n'
    )
