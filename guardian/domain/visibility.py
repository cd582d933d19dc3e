"""A patient as seen through the pathways a user may see (docs/access.md, "By pathway").

Scope follows the pathway (its practice), not the patient: who may see which pathway is
decided in one place (`guardian.web.access`); given those pathways, this module says what
else of the patient goes with them. Pure functions over the aggregate's state.

- A contact, support offer or deterioration flag goes with the pathway it was made for.
  One recorded before such records carried a pathway (`pathway` None) is patient-wide: it
  goes only with a view of the whole patient.
- A view is of the **whole patient** when it takes in every open pathway (every pathway,
  when none is open). Only such a view shows the patient's own details, and only such a
  user (or the provider's extract, or an admin) may change them.
- Any other view shows the details as reported with its own pathways (the latest of
  them), never what another scope's referrals said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from guardian.domain.pathway import Contact, DeteriorationFlag, Pathway, PathwayKey, SupportOffer

DETAILS = ("birth_date", "given_name", "family_name", "phone", "email")


def takes_in_whole_patient(pathways: Iterable[Pathway], visible: Iterable[PathwayKey]) -> bool:
    """Whether `visible` takes in every open pathway (every pathway when none is open)."""
    seen = set(visible)
    pathways = list(pathways)
    open_ones = [p for p in pathways if p.is_open] or pathways
    return all(p.key in seen for p in open_ones)


def goes_with(record_pathway: PathwayKey | None, visible: set[PathwayKey], whole: bool) -> bool:
    """Whether a record made for `record_pathway` (None: patient-wide) is in the view."""
    return whole if record_pathway is None else record_pathway in visible


@dataclass(frozen=True)
class PatientView:
    """What a user who may see `keys` sees of one patient."""

    patient_id: Any
    nhs_number: str
    birth_date: dt.date
    given_name: str | None
    family_name: str | None
    phone: str | None
    email: str | None
    keys: tuple[PathwayKey, ...]
    whole: bool
    flags: tuple[DeteriorationFlag, ...]
    contacts: tuple[Contact, ...]
    support: tuple[SupportOffer, ...]

    def sees(self, record_pathway: PathwayKey | None) -> bool:
        return goes_with(record_pathway, set(self.keys), self.whole)


def view_of(patient: Any, visible: Iterable[PathwayKey]) -> PatientView:
    """The patient as seen through `visible` (keys of their pathways)."""
    keys = tuple(k for k in visible if k in patient.pathways)
    seen = set(keys)
    whole = takes_in_whole_patient(patient.pathways.values(), seen)
    if whole:
        details = {name: getattr(patient, name) for name in DETAILS}
    else:
        details = reported_details(patient, keys)
    return PatientView(
        patient.id, patient.nhs_number, keys=keys, whole=whole,
        flags=tuple(f for f in patient.flags.values() if goes_with(f.pathway, seen, whole)),
        contacts=tuple(c for c in patient.contacts.values()
                       if goes_with(c.pathway, seen, whole)),
        support=tuple(s for s in patient.support.values() if goes_with(s.pathway, seen, whole)),
        **details,
    )


def reported_details(patient: Any, keys: Iterable[PathwayKey]) -> dict[str, Any]:
    """The patient's details as last reported with one of these pathways (the most recent
    report wins; a pathway never reported on takes the details it was registered with)."""
    keys = list(keys)
    if not keys:
        return {name: None for name in DETAILS} | {"birth_date": patient.birth_date}
    latest = max(keys, key=lambda k: (patient.pathways[k].reported_as_of or dt.date.min,
                                      patient.pathways[k].received_on))
    reported = patient.reported.get(latest, {})
    return {name: reported.get(name, getattr(patient, name)) for name in DETAILS}


def differing_details(patient: Any, key: PathwayKey) -> dict[str, Any]:
    """The details reported with this pathway that differ from the patient's own: what
    the coordinators have to reconcile (empty when they agree)."""
    reported = patient.reported.get(key, {})
    return {name: reported[name] for name in DETAILS
            if name in reported and reported[name] != getattr(patient, name)}
