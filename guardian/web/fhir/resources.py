"""Guardian's records as FHIR R4 resources (docs/fhir.md, the mapping tables): a pathway as
a ServiceRequest, an item of agreed workup or a DM01 test as a Task, a deterioration as a
Flag, a message of the pathway's thread as a Communication. Pure functions over the
Patient aggregate's state; what the caller may see was decided before (`lookup`), and the
names come from the organisation reference (guardian/web/names.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from guardian.domain.codes import (
    CALL_IF_WORSE,
    DETERIORATION_SOURCES,
    DIAGNOSTIC_TESTS,
    MESSAGE_PARTIES,
    PRIORITIES,
    SELF_CARE,
    SELF_CARE_ADVICE,
    WORKUP_OWNERS,
    label,
    treatment_function_label,
)
from guardian.domain.pathway import DeteriorationFlag, Diagnostic, Message, Pathway, WorkupItem
from guardian.domain.standards import get_standard
from guardian.web.fhir import ids

# Referral priority (docs/rules.md §10) ↔ FHIR request-priority. Urgent suspected cancer,
# the two-week-wait referral, is `asap`; `stat` (emergency care) is not a waiting list's.
PRIORITY_CODES = {1: "routine", 2: "urgent", 3: "asap"}
PRIORITY_OF_CODE = {code: n for n, code in PRIORITY_CODES.items()}
GUARDIAN_TEAM = "the Guardian team"
# Why a pathway was closed that means it was done, not called off (guardian/domain/codes.py).
CLOSED_AS_DONE = frozenset({"follow-up-finished"})


def status_of(p: Pathway) -> str:
    """`active` while waiting; `completed` once the clock stopped (treated, discharged) or
    Guardian's follow-up finished; `revoked` when Guardian closed it for any other reason
    (withdrawn, declined, treated elsewhere, duplicate, …)."""
    if p.closed_on is not None:
        return "completed" if (p.close_reason in CLOSED_AS_DONE or p.clock_end) else "revoked"
    return "completed" if p.clock_end is not None else "active"


def _name(given: str | None, family: str | None) -> str | None:
    words = " ".join(w for w in (given, (family or "").upper() or None) if w)
    return words or None


def _rtt_clock(p: Pathway, standards: Any) -> list[dict[str, Any]]:
    """The RTT clock extension: its start, the day the 18-week standard is breached
    (docs/rules.md §2, `rtt-18`), its stop and the national RTT status."""
    parts: list[dict[str, Any]] = []
    if p.clock_start is not None:
        parts.append({"url": "start", "valueDate": p.clock_start.isoformat()})
        if p.is_rtt:
            breach = get_standard("rtt-18", standards).breach_day or 127
            parts.append({"url": "breachOn",
                          "valueDate": (p.clock_start + dt.timedelta(days=breach)).isoformat()})
    if p.clock_end is not None:
        parts.append({"url": "end", "valueDate": p.clock_end.isoformat()})
    if p.rtt_status:
        parts.append({"url": "status", "valueCode": p.rtt_status})
    if p.waiting_list_type:
        parts.append({"url": "waitingListType", "valueCode": p.waiting_list_type})
    return [{"url": ids.RTT_CLOCK, "extension": parts}] if parts else []


def service_request(patient: Any, p: Pathway, view: Any, names: Any,
                    standards: Any) -> dict[str, Any]:
    """A pathway as a ServiceRequest (UK Core ServiceRequest)."""
    sr_id = ids.service_request_id(patient.id, p.provider, p.pathway_id)
    identifiers = [{"system": ids.pathway_system(p.provider), "value": p.pathway_id}]
    if p.ubrn:
        identifiers.insert(0, {"system": ids.UBRN, "value": p.ubrn})
    tf = treatment_function_label(p.treatment_function)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": sr_id,
        "meta": {"profile": [ids.PROFILES["ServiceRequest"]]},
        "extension": _rtt_clock(p, standards),
        "identifier": identifiers,
        "status": status_of(p), "intent": "order",
        "category": [{"coding": [{"system": ids.SNOMED, "code": "3457005",
                                  "display": "Patient referral"}]}],
        "priority": PRIORITY_CODES.get(p.priority, "routine"),
        "code": {"coding": [{"system": ids.TREATMENT_FUNCTION, "code": p.treatment_function,
                             "display": tf}],
                 "text": f"{tf} ({PRIORITIES[p.priority]})" if p.priority in PRIORITIES
                 else tf},
        "subject": ids.patient_reference(patient.nhs_number,
                                         _name(view.given_name, view.family_name)),
        "authoredOn": p.received_on.isoformat(),
        "requester": ids.organisation_reference(p.practice_code,
                                                names.practice(p.practice_code)),
        "performer": [ids.organisation_reference(p.provider, names.provider(p.provider))],
    }
    if p.clock_start is not None and p.is_rtt:
        last_day = get_standard("rtt-18", standards).last_day_within
        resource["occurrencePeriod"] = {
            "start": p.clock_start.isoformat(),
            "end": (p.clock_start + dt.timedelta(days=last_day)).isoformat()}
    if not resource["extension"]:
        del resource["extension"]
    return resource


def _owner(party: str, p: Pathway, patient: Any, names: Any) -> dict[str, Any]:
    """Who a record is for or from: the practice, the hospital, the patient or Guardian."""
    if party in ("practice", "gp"):
        return ids.organisation_reference(p.practice_code, names.practice(p.practice_code))
    if party == "hospital":
        return ids.organisation_reference(p.provider, names.provider(p.provider))
    if party == "patient":
        return ids.patient_reference(patient.nhs_number)
    return {"display": GUARDIAN_TEAM}


def _task(patient: Any, p: Pathway, kind: str, own_id: str, done: dt.date | None,
          since: dt.date) -> dict[str, Any]:
    sr_id = ids.service_request_id(patient.id, p.provider, p.pathway_id)
    return {
        "resourceType": "Task",
        "id": ids.record_id(patient.id, kind, p.provider, p.pathway_id, own_id),
        "meta": {"profile": [ids.PROFILES["Task"]]},
        "basedOn": [ids.reference("ServiceRequest", sr_id)],
        "status": "completed" if done else ("requested" if kind == "workup" else "in-progress"),
        "intent": "order",
        "for": ids.patient_reference(patient.nhs_number),
        "authoredOn": since.isoformat(),
        "executionPeriod": {"start": since.isoformat(),
                            **({"end": done.isoformat()} if done else {})},
    }


def workup_task(patient: Any, p: Pathway, w: WorkupItem, names: Any) -> dict[str, Any]:
    """An item of agreed workup as a Task, owned by whom it was asked of."""
    task = _task(patient, p, "workup", w.item_id, w.completed_on, w.required_on)
    task.update(
        code={"coding": [{"system": ids.TASK_KIND, "code": "workup",
                          "display": "Agreed referral workup"}]},
        description=w.description,
        owner=_owner(w.requested_from, p, patient, names),
    )
    task["owner"].setdefault("display", label(WORKUP_OWNERS, w.requested_from))
    return task


def diagnostic_task(patient: Any, p: Pathway, d: Diagnostic, names: Any) -> dict[str, Any]:
    """A DM01 diagnostic test as a Task of the hospital, its result as the output."""
    name = DIAGNOSTIC_TESTS.get(d.test, d.test)
    task = _task(patient, p, "diagnostic", d.test_id, d.resulted_on, d.ordered_on)
    task.update(
        code={"coding": [{"system": ids.DIAGNOSTIC_TEST, "code": d.test, "display": name}],
              "text": name},
        description=f"{name} (DM01 diagnostic test)",
        owner=_owner("hospital", p, patient, names),
    )
    if d.resulted_on is not None and d.result:
        task["output"] = [{"type": {"text": "Result"}, "valueString": d.result}]
    return task


def tasks(patient: Any, p: Pathway, names: Any) -> list[dict[str, Any]]:
    """The pathway's workup items, then its diagnostic tests, each a Task."""
    return ([workup_task(patient, p, w, names) for w in p.workup.values()]
            + [diagnostic_task(patient, p, d, names) for d in p.diagnostics.values()])


def flag(patient: Any, f: DeteriorationFlag) -> dict[str, Any]:
    """A reported deterioration as a Flag: active until it is reviewed."""
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": ids.record_id(patient.id, "flag", None, None, f.flag_id),
        "meta": {"profile": [ids.PROFILES["Flag"]]},
        "status": "inactive" if f.reviewed_on else "active",
        "category": [{"coding": [{"system": ids.FLAG_CATEGORY, "code": "clinical",
                                  "display": "Clinical"}]}],
        "code": {"text": f"Reported deterioration: {f.summary}"},
        "subject": ids.patient_reference(patient.nhs_number),
        "period": {"start": f.raised_on.isoformat(),
                   **({"end": f.reviewed_on.isoformat()} if f.reviewed_on else {})},
        "author": {"display": f"Reported by {label(DETERIORATION_SOURCES, f.source)}"},
    }
    if f.pathway is not None:
        provider, pathway_id = f.pathway
        resource["extension"] = [{"url": ids.REFERRAL, "valueReference": ids.reference(
            "ServiceRequest", ids.service_request_id(patient.id, provider, pathway_id))}]
    return resource


def _sent(at: dt.datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat()


def communication(patient: Any, p: Pathway, m: Message, names: Any) -> dict[str, Any]:
    """A message of the pathway's thread: from the party to Guardian (received, or a reply
    recorded by a coordinator) or from Guardian to the party."""
    party = _owner(m.party, p, patient, names)
    party.setdefault("display", label(MESSAGE_PARTIES, m.party))
    guardian = {"display": GUARDIAN_TEAM}
    sender, recipient = (guardian, party) if m.direction == "out" else (party, guardian)
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": ids.record_id(patient.id, "message", p.provider, p.pathway_id, m.message_id),
        "basedOn": [ids.reference("ServiceRequest", ids.service_request_id(
            patient.id, p.provider, p.pathway_id))],
        "status": "completed",
        "subject": ids.patient_reference(patient.nhs_number),
        "sent": _sent(m.at),
        "sender": sender,
        "recipient": [recipient],
        "payload": [{"contentString": m.body}],
    }
    if m.in_reply_to and m.in_reply_to in p.messages:
        resource["inResponseTo"] = [ids.reference("Communication", ids.record_id(
            patient.id, "message", p.provider, p.pathway_id, m.in_reply_to))]
    return resource


def communications(patient: Any, p: Pathway, names: Any) -> list[dict[str, Any]]:
    """The pathway's thread, oldest first."""
    return [communication(patient, p, m, names) for m in p.thread()]


def care_plans(patient: Any, p: Pathway, names: Any) -> list[dict[str, Any]]:
    """The plan agreed with the patient while they wait on this pathway (docs/rules.md
    "Plans while waiting") as a CarePlan: each self-care topic an activity, and whom to
    call if worse; none until a plan is agreed. A later plan replaces it (the same id)."""
    plan = p.care_plan
    if plan is None:
        return []
    who = label(CALL_IF_WORSE, plan.call_if_worse)

    def activity(system: str, code: str, display: str, description: str) -> dict[str, Any]:
        return {"detail": {"code": {"coding": [{"system": system, "code": code,
                                                "display": display}]},
                           "status": "in-progress" if p.is_open else "completed",
                           "description": description}}

    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": ids.record_id(patient.id, "care-plan", p.provider, p.pathway_id, "plan"),
        "basedOn": [ids.reference("ServiceRequest", ids.service_request_id(
            patient.id, p.provider, p.pathway_id))],
        "status": "active" if p.is_open else "completed",
        "intent": "plan",
        "title": "Plan while waiting",
        "subject": ids.patient_reference(patient.nhs_number),
        "created": plan.agreed_on.isoformat(),
        "author": {"display": GUARDIAN_TEAM},
        "activity": [activity(ids.SELF_CARE, code, label(SELF_CARE, code),
                              SELF_CARE_ADVICE.get(code, label(SELF_CARE, code)))
                     for code in plan.self_care]
        + [activity(ids.CALL_IF_WORSE, plan.call_if_worse, who,
                    f"If worse, the patient calls {who}; 111, or 999 in an emergency.")],
    }
    if plan.note:
        resource["note"] = [{"text": plan.note}]
    return [resource]
