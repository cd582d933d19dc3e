"""The Patient's events: one class each, grouped by concern; the index of every event, with
the command that fires it, is in `guardian/domain/patient/__init__.py`.

Readers (the timeline, the read models, the tests) match events by these classes, never by
their names. `STORED` lists every class an event store may hold, by stored topic.
"""

from guardian.domain.patient.events.base import (
    PathwayEvent,
    PatientEvent,
    ReportedEvent,
    StoredUnderTopic,
)
from guardian.domain.patient.events.bookings import (
    AppointmentBooked,
    AttendanceWithdrawn,
    BookingCancelled,
    DidNotAttend,
    NonAttendanceWithdrawn,
    PatientSeen,
    TreatmentScheduled,
)
from guardian.domain.patient.events.care import (
    CoordinatorAssigned,
    DiagnosisCommunicated,
    DiagnosticOrdered,
    DiagnosticResulted,
    DiagnosticResultReleased,
    PathwayClosed,
    WorkupCompleted,
    WorkupItemCompleted,
    WorkupItemRequired,
)
from guardian.domain.patient.events.clock import (
    ClockStartCorrected,
    ClockStopped,
    ClockStopWithdrawn,
    RttPeriodStarted,
    RttStatusReported,
)
from guardian.domain.patient.events.contact import (
    CarePlanAgreed,
    ContactLogged,
    ContactPreferenceRecorded,
    DeteriorationFlagged,
    DeteriorationReviewed,
    MessageMarkedAnswered,
    MessageReceived,
    MessageSent,
    ReplyRecorded,
    SupportOffered,
)
from guardian.domain.patient.events.identity import (
    BirthDateCorrected,
    ContactDetailsChanged,
    ReferralDetailsReported,
    Registered,
)
from guardian.domain.patient.events.referral import (
    LocalPatientIdCorrected,
    PathwayLeftWaitingList,
    PathwayReturnedToWaitingList,
    PracticeChanged,
    PriorityChanged,
    ProcedurePriorityReviewed,
    ProviderRecordCorrected,
    ReferralDateCorrected,
    ReferralReceived,
    SpecialtyCorrected,
    UbrnCorrected,
    WaitingListTypeCorrected,
)
from guardian.domain.patient.events.waits import (
    BreachWithdrawn,
    CheckInDue,
    CheckInOutcomeRecorded,
    NewsSeen,
    StepAtRisk,
    WaitBreached,
)

#: Every event class, by the topic its events are stored under.
STORED: dict[str, type] = {
    cls.TOPIC: cls
    for cls in (
        Registered, BirthDateCorrected, ContactDetailsChanged, ReferralDetailsReported,
        ReferralReceived, ReferralDateCorrected, SpecialtyCorrected, WaitingListTypeCorrected,
        UbrnCorrected, LocalPatientIdCorrected, ProviderRecordCorrected, PracticeChanged,
        PriorityChanged, ProcedurePriorityReviewed, PathwayLeftWaitingList,
        PathwayReturnedToWaitingList, ClockStartCorrected, RttPeriodStarted, ClockStopped,
        ClockStopWithdrawn, RttStatusReported, AppointmentBooked, TreatmentScheduled,
        BookingCancelled, PatientSeen, AttendanceWithdrawn, DidNotAttend,
        NonAttendanceWithdrawn, WorkupItemRequired, WorkupItemCompleted, WorkupCompleted,
        DiagnosticOrdered, DiagnosticResulted, DiagnosticResultReleased, DiagnosisCommunicated,
        PathwayClosed,
        CoordinatorAssigned, WaitBreached, BreachWithdrawn, StepAtRisk, CheckInDue,
        CheckInOutcomeRecorded, NewsSeen, DeteriorationFlagged, DeteriorationReviewed,
        ContactLogged, ContactPreferenceRecorded,
        SupportOffered, CarePlanAgreed, MessageReceived, MessageSent, ReplyRecorded,
        MessageMarkedAnswered,
    )
}

__all__ = [
    "STORED", "PathwayEvent", "PatientEvent", "ReportedEvent", "StoredUnderTopic",
    *(cls.__name__ for cls in STORED.values()),
]
