"""Help: the glossary (`GET /help/glossary`, for anyone signed in), the words the service
uses, each in plain English with its own anchor (`/help/glossary#rtt`). Templates link a
term's first use on a page to its entry with the `term` macro of `_help.html`:

    {% from "_help.html" import term %}
    {{ term("At risk") }}            → <a href="/help/glossary#at-risk">At risk</a>
    {{ term("Check-in due", "check-in") }}

The anchor is the term in lower case with spaces as hyphens, unless given; every anchor a
template links to is one of `GLOSSARY` (tests/web/test_help.py). The rules behind each
entry are docs/rules.md and docs/suppression.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from guardian.web.access import CurrentPrincipal
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Entry:
    anchor: str
    term: str
    meaning: str  # plain English, a sentence or three


GLOSSARY: tuple[Entry, ...] = (
    Entry("rtt", "RTT (referral to treatment)",
          "The wait from the day the hospital receives a referral to the start of the "
          "patient's first treatment. The NHS standard is 18 weeks (126 days) or less. "
          "Guardian counts the wait in days: the day the clock starts is day 0."),
    Entry("clock-start", "Clock start",
          "The day an RTT wait begins, usually the day the hospital received the referral. "
          "It is day 0 of the wait."),
    Entry("clock-stop", "Clock stop",
          "The day an RTT wait ends: the first treatment starts, the hospital decides not to "
          "treat, the patient declines treatment or does not come to their first "
          "appointment, or a check-in finds the patient no longer needs to wait. After a "
          "clock stop the patient is no longer waiting on that pathway."),
    Entry("pathway", "Pathway",
          "One referral for one condition at one hospital, from the referral until the wait "
          "ends. A patient can have several pathways at once. Who may see a pathway follows "
          "the GP practice it was registered at."),
    Entry("ptl", "PTL (patient tracking list)",
          "The hospital's waiting list: a file listing every patient waiting and where their "
          "pathway has got to. Guardian imports it to know who is waiting and for how long."),
    Entry("p-codes", "P-codes (P1a to P6)",
          "How soon a surgeon says a procedure is needed: P1a within 24 hours, P1b within "
          "72 hours, P2 within 4 weeks, P3 within 3 months, P4 after more than 3 months. "
          "P5 and P6 mean the patient chose to wait longer. Guardian tracks P2 (28 days) "
          "and P3 (90 days) as deadlines; the others are shown but have no deadline."),
    Entry("urgent-suspected-cancer", "Urgent suspected cancer",
          "A referral made because cancer is suspected (priority 3). The cancer standards "
          "apply to it: the Faster Diagnosis Standard and the 62-day standard."),
    Entry("fds", "FDS (Faster Diagnosis Standard)",
          "A patient referred with suspected cancer should be told within 28 days of the "
          "referral being received whether they have cancer or it has been ruled out. If "
          "not, the standard is breached on day 29."),
    Entry("62-day", "62-day standard",
          "A patient referred with suspected cancer should start their first treatment "
          "within 62 days of the referral being received. If not, the standard is breached "
          "on day 63."),
    Entry("at-risk", "At risk",
          "A step is not done yet and its deadline is close: for example, the last 14 days "
          "before 18 weeks. The worklist and the patient's page say which step is at risk "
          "and by when it is due."),
    Entry("breached", "Breached",
          "A step was not done by the last day its standard allows. The breach is recorded "
          "on the next day, once, and stays in the patient's record even when the step is "
          "done later."),
    Entry("check-in", "Check-in (Waiting Well)",
          "A call or message to a patient who has waited 12, 26 and 52 weeks, and every 12 "
          "weeks after that, to ask how they are. The coordinator records what the patient "
          "said: no change, worse (which raises a deterioration flag), no longer needed, "
          "treated elsewhere, or no response."),
    Entry("workup", "Workup",
          "What has to be done before the hospital can see or treat the patient, agreed "
          "with the hospital: for example blood tests, a weight or a medication review. It "
          "should be done within 14 days of the referral being received."),
    Entry("deterioration-flag", "Deterioration flag",
          "A note that the patient's condition has got worse, raised by the patient, their "
          "GP, a coordinator or a check-in. Someone must review it within 2 working days."),
    Entry("pcn", "PCN (primary care network)",
          "GP practices in one area working together. A care coordinator works for one or "
          "more PCNs and sees the pathways of patients registered at those practices."),
    Entry("place", "Place",
          "One area of the integrated care system, such as Thurrock or Mid Essex. A place "
          "lead sees the reports for their place, never a patient's details."),
    Entry("ubrn", "UBRN (unique booking reference number)",
          "The 12-digit number the NHS e-Referral Service gives a referral. You can find a "
          "patient by it."),
    Entry("small-number-suppression", "Small-number suppression",
          "How reports keep patients from being recognised: counts from 1 to 7 show as *, "
          "other counts are rounded to the nearest 5, and percentages and averages of "
          "groups of fewer than 8 are not shown."),
)
ANCHORS = frozenset(e.anchor for e in GLOSSARY)


@router.get("/help")
def help_page(principal: CurrentPrincipal) -> Response:
    return RedirectResponse("/help/glossary", status_code=303)


@router.get("/help/glossary")
def glossary_page(request: Request, principal: CurrentPrincipal) -> Response:
    """The glossary, in the order a coordinator meets the words."""
    return render(request, "glossary.html", {"entries": GLOSSARY})
