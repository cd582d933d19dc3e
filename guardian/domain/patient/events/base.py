"""What every Patient event shares: its stored topic, and how it finds what it changes. Each
event class names the topic it is stored under (`TOPIC = "guardian.Patient.<Name>"`), so
renaming or moving a class never breaks stored history; the field names are the keys of its
stored JSON, so they never change either (their order may: a stored event is read by field
name, so fields shared by several events live in a base class: `PathwayEvent`,
`ReportedEvent`, and the report's groups in `guardian/domain/report.py`). The eventsourcing
library registers the topics of event classes nested in an aggregate's body; these classes
live in modules of their own, so each registers its topic as it is defined
(`StoredUnderTopic`). An event's `apply` is its whole rule: it only changes state (no I/O,
no clock, no failure).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from guardian.domain.pathway import Pathway, PathwayKey, pathway_key

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class StoredUnderTopic:
    """Registers each subclass that names a TOPIC under that topic, so a stored event
    with the topic resolves to the class (and the aggregate may trigger it)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        topic = cls.__dict__.get("TOPIC")
        if topic:
            register_topic(topic, cls)


class PatientEvent(StoredUnderTopic, Aggregate.Event):
    """Something that happened to a registered patient."""


class PathwayEvent(PatientEvent):
    """Something that happened on one of the patient's pathways (referrals)."""

    provider: str
    pathway_id: str

    @property
    def key(self) -> PathwayKey:
        return pathway_key(self.provider, self.pathway_id)

    def pathway(self, patient: Patient) -> Pathway:
        return patient.pathways[pathway_key(self.provider, self.pathway_id)]


class ReportedEvent(PathwayEvent):
    """A fact of a pathway, as the provider reported it on `reported_on` (an extract's
    as-of date), or as a Guardian command recorded it (`reported_on` None)."""

    reported_on: dt.date | None

    def remember(self, patient: Patient, **facts: Any) -> None:
        """Keep what the provider reported (only for facts that came from an extract):
        the next report of the pathway is compared with it (docs/formats.md)."""
        if self.reported_on is None or self.provider is None or self.pathway_id is None:
            return
        key = self.key
        patient.reported[key].update(facts)
        patient.pathways[key].reported_as_of = self.reported_on

    def set_facts(self, patient: Patient, **facts: Any) -> None:
        """The pathway's reported facts (`Pathway` attribute → value) are now these, and
        they are remembered as reported (as `remember`, for the pathway the event is on)."""
        key = self.key
        pathway = patient.pathways[key]
        vars(pathway).update(facts)
        if self.reported_on is not None:
            patient.reported[key].update(facts)
            pathway.reported_as_of = self.reported_on


def optional_key(provider: str | None, pathway_id: str | None) -> PathwayKey | None:
    """The pathway a patient-wide record was made for; None for one made for no pathway
    (recorded before such records carried one, docs/access.md)."""
    if provider is None or pathway_id is None:
        return None
    return pathway_key(provider, pathway_id)
