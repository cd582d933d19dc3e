"""A notification row to the message that goes out (docs/notifications.md "What is sent"):
the template's context for its kind, built when it is sent from the row, the patient as
now recorded and the names people read, then rendered (`render.py`).

What a message says depends on who reads it and how. An e-mail to a coordinator names the
referral's specialty, hospital and practice and links to the patient's page: no name, NHS
number or clinical detail travels in the e-mail itself. A message to the patient speaks to
them in plain English (a reading age of about 9) and always says what to do if they get
worse. A webhook's payload carries codes and dates for a machine, no free text.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from guardian.domain import codes
from guardian.notifications.channels import Outgoing
from guardian.notifications.render import render
from guardian.projections.name_queries import Names
from guardian.projections.plain import weeks_text

# What happened, as a coordinator's alert names it (the subject's ending).
HAPPENED = {
    "breach": "a wait standard was missed",
    "at-risk": "a step is at risk of missing its standard",
    "deterioration": "a patient reported getting worse",
    "check-in-due": "a Waiting Well check-in is due",
    "message-waiting": "a message is waiting for you",
}


@dataclass
class World:
    """What composing needs beyond the row: names, the settings, a reply address maker
    (threads.py) and, for the patient's letter, the expected wait."""

    names: Names
    settings: Any
    standards: dict[str, str]  # standard code → its label
    expected_wait: Any = None  # (provider, tf, priority, on) → ExpectedWait | None
    reply_address: Any = None  # (row, patient) → a Reply-To address, or None


def base_url(settings: Any) -> str:
    return (getattr(settings, "base_url", None) or "http://127.0.0.1:8000").rstrip("/")


def pathway_words(context: dict[str, Any], names: Names) -> dict[str, str]:
    return {
        "specialty": codes.TREATMENT_FUNCTIONS.get(context.get("treatment_function") or "",
                                                   context.get("treatment_function") or ""),
        "hospital": names.provider(context.get("provider")),
        "practice": names.practice(context.get("practice_code")),
        "pcn": names.pcn(context.get("pcn_code")),
    }


def compose(row: Any, patient: Any, world: World, to: str | None,
            extra: dict[str, Any] | None = None) -> Outgoing:
    """The message for a row. `to`: the address resolved when sending; `extra`: what a
    summary or digest gathered when sending."""
    context = json.loads(row.context)
    context["provider"], context["pathway_id"] = row.provider, row.pathway_id
    url = base_url(world.settings)
    words = pathway_words(context, world.names)
    values: dict[str, Any] = {**context, **words, **(extra or {}), "kind": row.kind,
                              "base_url": url, "worklist_url": f"{url}/worklist"}
    if row.patient_id:
        values["patient_url"] = f"{url}/patients/{row.patient_id}"
    if "standard" in context:
        values["standard_label"] = world.standards.get(context["standard"], context["standard"])
    if "party" in context:
        values["party_name"] = codes.MESSAGE_PARTIES.get(context["party"], context["party"])
    headers: dict[str, str] = {}
    if row.kind == "thread-message" and patient is not None:
        message = _message(patient, row, context)
        values["body"] = message.body if message else ""
        if world.reply_address is not None:
            reply = world.reply_address(row, patient)
            if reply:
                headers["Reply-To"] = reply
    if row.kind == "sign-in-code" and patient is not None:
        values.update(given_name=patient.given_name or "", family_name=patient.family_name or "",
                      letter=row.channel == "letter", sign_in_url=f"{url}/my/code")
    elif row.recipient == "patient" and patient is not None:
        values.update(_for_patient(row, patient, context, world))
    rendered = render(row.kind, values)
    payload = None
    if row.channel == "webhook":
        payload = {"notification": row.key, "kind": row.kind,
                   "happened_on": context.get("on"), "provider": row.provider,
                   "pathway_id": row.pathway_id,
                   "practice_code": context.get("practice_code"),
                   "treatment_function": context.get("treatment_function"),
                   "standard": context.get("standard"), "subject": rendered.subject,
                   "link": values.get("patient_url")}
    return Outgoing(to, rendered.subject, rendered.text, rendered.html, headers, payload)


def _message(patient: Any, row: Any, context: dict[str, Any]) -> Any:
    pathway = patient.pathway(row.provider, row.pathway_id)
    return pathway.messages.get(context.get("message_id"))


def _for_patient(row: Any, patient: Any, context: dict[str, Any], world: World
                 ) -> dict[str, Any]:
    pathway = patient.pathway(row.provider, row.pathway_id)
    on = dt.date.fromisoformat(context.get("on") or dt.date.today().isoformat())
    start = pathway.clock_start or pathway.received_on
    waited_weeks = max(0, (on - start).days) // 7
    expected = None
    if world.expected_wait is not None and pathway.is_rtt:
        expected = world.expected_wait(pathway.provider, pathway.treatment_function,
                                       pathway.priority, on)
    out: dict[str, Any] = {
        "given_name": patient.given_name or "", "family_name": patient.family_name or "",
        "waited_weeks": waited_weeks, "waited_text": weeks_text(waited_weeks),
        "received_on": pathway.received_on.isoformat(),
        "expected_known": bool(expected and expected.known),
        "median_text": weeks_text(expected.median_weeks) if expected and expected.known else "",
        "p92_text": weeks_text(expected.p92_weeks) if expected and expected.known else "",
        "expected_sample": expected.sample if expected else 0,
        "check_in_url": f"{base_url(world.settings)}/my",
        "letter": row.channel == "letter",
        "nhs_number": patient.nhs_number,
    }
    return out
