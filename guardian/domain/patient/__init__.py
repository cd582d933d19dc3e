"""The Patient aggregate (`aggregate.py`), its commands by concern, and its events.

Where things are:

- `aggregate.py`: `Patient`, registration; `state.py`: its state and pathway look-ups.
- `provider_reports.py`: `reconcile` (a provider's report → events, a pure function) and
  `leave_waiting_list`.
- `care.py`: workup, diagnostics, diagnosis, clock stop, closure, coordinator.
- `waits.py`: breaches, at-risk warnings, the sweep, check-ins (`WaitChanges`).
- `contact.py`: deterioration, contacts, support, the plan while waiting, messages.
- `events/`: one class per event, with its stored topic, its fields and its rule (`apply`).

Every event, the module of `events/` that holds its rule, and what fires it:

| event | rule in | fired by |
| --- | --- | --- |
| Registered | identity | `Patient.register` |
| BirthDateCorrected, ContactDetailsChanged, ReferralDetailsReported | identity | `reconcile` |
| ReferralReceived, PracticeChanged, PriorityChanged | referral | `reconcile` |
| ProcedurePriorityReviewed | referral | `reconcile` |
| ReferralDateCorrected, SpecialtyCorrected, WaitingListTypeCorrected | referral | `reconcile` |
| UbrnCorrected, LocalPatientIdCorrected | referral | `reconcile` |
| ProviderRecordCorrected | referral | nothing now: stored history only |
| PathwayLeftWaitingList | referral | `leave_waiting_list` |
| PathwayReturnedToWaitingList | referral | `reconcile` |
| ClockStartCorrected, RttPeriodStarted | clock | `reconcile` |
| ClockStopWithdrawn, RttStatusReported | clock | `reconcile` |
| ClockStopped | clock | `reconcile`, `stop_clock`, `record_check_in_outcome` |
| AppointmentBooked, TreatmentScheduled, BookingCancelled | bookings | `reconcile` |
| PatientSeen, AttendanceWithdrawn, DidNotAttend, NonAttendanceWithdrawn | bookings | `reconcile` |
| WorkupItemRequired | care | `require_workup_item` |
| WorkupItemCompleted, WorkupCompleted | care | `complete_workup_item` |
| DiagnosticOrdered, DiagnosticResulted | care | `order_diagnostic`, `record_diagnostic_result` |
| DiagnosticResultReleased | care | `release_result` (a clinician released it to the patient) |
| DiagnosisCommunicated | care | `communicate_diagnosis` |
| PathwayClosed, CoordinatorAssigned | care | `close_pathway`, `assign_coordinator` |
| WaitBreached | waits | `check_waits`, `settle_ended_pathways`, `record_breach` |
| BreachWithdrawn | waits | `check_waits`, `settle_ended_pathways`, `withdraw_breach` |
| StepAtRisk | waits | `check_waits` |
| CheckInDue | waits | `check_ins` |
| CheckInOutcomeRecorded | waits | `record_check_in_outcome` |
| NewsSeen | waits | `see_news` (a coordinator opened the patient) |
| DeteriorationFlagged | contact | `flag_deterioration`, `record_check_in_outcome` ("worse") |
| DeteriorationReviewed | contact | `review_deterioration` |
| ContactLogged, SupportOffered | contact | `log_contact`, `offer_support` |
| ContactPreferenceRecorded | contact | `record_contact_preference` |
| CarePlanAgreed | contact | `agree_care_plan` (the plan while waiting, docs/rules.md) |
| MessageReceived, MessageSent | contact | `receive_message`, `send_message` |
| ReplyRecorded, MessageMarkedAnswered | contact | `record_reply`, `mark_message_answered` |

Each is stored under the topic `guardian.Patient.<event>`.
"""

from guardian.domain.patient import events
from guardian.domain.patient.aggregate import Patient
from guardian.domain.patient.provider_reports import report_events
from guardian.domain.patient.waits import WaitChanges

__all__ = ["Patient", "WaitChanges", "events", "report_events"]
