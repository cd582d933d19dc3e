"""What a Patient holds, and the look-ups every command starts from.

`PatientState` is the base of the command mixins (provider reports, care, waits, contact):
it names the aggregate's state, set by the events (`events/identity.py`, `Registered`),
and finds a pathway by its key, refusing one that is not the patient's or not open.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from guardian.domain.errors import InvalidValue, PathwayNotOpen, UnknownPathway
from guardian.domain.pathway import (
    Contact,
    DeteriorationFlag,
    Pathway,
    PathwayKey,
    SupportOffer,
    pathway_key,
)
from guardian.domain.report import PATIENT_FACTS, REPORTED_FACTS


class PatientState:
    """The patient's details, pathways and records; the commands of the mixins use them.

    The details are attributes named as the report's `PATIENT_FACTS` (`nhs_number`,
    `birth_date`, `given_name`, `family_name`, `phone`, `email`), as last reported by a
    source that may change them (docs/access.md).
    """

    pathways: dict[PathwayKey, Pathway]
    reported: dict[PathwayKey, dict[str, Any]]  # what the provider last reported, per pathway
    flags: dict[str, DeteriorationFlag]
    contacts: dict[str, Contact]
    support: dict[str, SupportOffer]
    # How the patient wants Guardian to write (codes.CONTACT_PREFERENCES); None: not asked
    # yet (e-mail when they have an address, else a letter: docs/notifications.md).
    contact_preference: str | None = None

    if TYPE_CHECKING:  # from eventsourcing's Aggregate, which the Patient also is

        def trigger_event(self, event_class: type, **kwargs: Any) -> None: ...

    def pathway(self, provider: str, pathway_id: str) -> Pathway:
        """One of the patient's pathways; UnknownPathway when it is not theirs."""
        try:
            return self.pathways[pathway_key(provider, pathway_id)]
        except KeyError:
            raise UnknownPathway(
                f"pathway {pathway_id!r} at provider {provider!r} is not one of this "
                "patient's referrals",
                field="pathway",
            ) from None

    def open_pathways(self) -> list[Pathway]:
        return [p for p in self.pathways.values() if p.is_open]

    def identity(self) -> dict[str, Any]:
        """The patient's own details, by report fact name (`PATIENT_FACTS`)."""
        return {f: getattr(self, f) for f in PATIENT_FACTS}

    def reported_facts(self, provider: str, pathway_id: str) -> tuple[object, ...]:
        """The facts the provider last reported for this pathway, in `REPORTED_FACTS` order."""
        reported = self.reported[pathway_key(provider, pathway_id)]
        return tuple(reported.get(f) for f in REPORTED_FACTS)

    def _open_pathway(self, provider: str, pathway_id: str) -> Pathway:
        """The pathway, for a command that needs its clock running: PathwayNotOpen when it
        was closed or its clock stopped."""
        p = self.pathway(provider, pathway_id)
        if p.closed_on is not None:
            raise PathwayNotOpen(f"pathway {pathway_id!r} was closed on {p.closed_on.isoformat()}")
        if p.clock_end is not None:
            raise PathwayNotOpen(
                f"pathway {pathway_id!r} has a stopped clock (stopped {p.clock_end.isoformat()})"
            )
        return p


def refuse_before(on: dt.date, earliest: dt.date | None, message: str) -> None:
    """Refuse a command dated (`on`) before the day of what it follows (`earliest`)."""
    if earliest is not None and on < earliest:
        raise InvalidValue(message, field="on")
