"""Loading the demo into a store once (`load_demo`, `guardian demo`): the organisations, then
the cohort in batches of aggregates saved together, each with its care history, and a
marker in `guardian_meta` (`read_marker`) so that later calls write nothing. An interrupted
load is finished by the next call: stored patients are reloaded and write nothing again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from guardian.demo.care import record_care_history
from guardian.demo.cohort import ORGS_FILE, DemoPatient, cohort
from guardian.domain.patient import Patient
from guardian.ingest.ptl import bulk_gc
from guardian.orgs import (
    PROVIDERS_FILE,
    load_orgs,
    load_providers,
    read_org_file,
    read_providers_file,
)
from guardian.store import chunks, dialect_insert, meta_table

if TYPE_CHECKING:
    from guardian.application import GuardianApp

DEFAULT_PATIENTS = 3000
DEFAULT_SEED = 20221
MARKER_KEY = "demo"
# Patients per transaction: large enough to amortise the commit, small enough that a batch
# of aggregates and their pending events stays a few megabytes.
SAVE_BATCH = 500


def read_marker(app: GuardianApp) -> dict[str, Any] | None:
    """What `load_demo` recorded in `guardian_meta`, or None when the demo is not loaded."""
    with app.engine.connect() as conn:
        value = conn.execute(
            select(meta_table.c.value).where(meta_table.c.key == MARKER_KEY)
        ).scalar()
    return json.loads(value) if value else None


def _write_marker(app: GuardianApp, marker: dict[str, Any]) -> None:
    with app.engine.begin() as conn:
        stmt = dialect_insert(conn, meta_table)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["key"]),
            [{"key": MARKER_KEY, "value": json.dumps(marker, sort_keys=True)}],
        )


@dataclass
class _Totals:
    patients: int = 0
    pathways: int = 0
    events: int = 0
    providers: set[str] = field(default_factory=set)


def _load_batch(
    app: GuardianApp, batch: list[DemoPatient], seed: int, as_of: dt.date, totals: _Totals
) -> None:
    """Build (or, after an interrupted load, reload) the batch's aggregates and save once.

    New patients are constructed directly, which is what `apply_reports` would do without
    the per-batch save and reload in between; a patient already stored is loaded, and its
    unchanged pathways and repeated commands write nothing (commands are idempotent).
    """
    ids = [app.patient_id(d.nhs_number) for d in batch]
    known = app.known_patients(ids)
    patients: list[Patient] = []
    for demo, pid in zip(batch, ids, strict=True):
        patient = app.get_patient(pid) if pid in known else Patient.register(pid, demo.reports[0])
        for report in demo.reports:
            key = (report.provider, report.pathway_id)
            if key not in patient.pathways or patient.reported_facts(*key) != report.facts():
                patient.reconcile(report)
            totals.providers.add(report.provider)
        record_care_history(patient, demo, seed, as_of, app.settings.zone)
        patient.settle_ended_pathways(app.settings.standards)
        patients.append(patient)
        totals.patients += 1
        totals.pathways += len(demo.reports)
    totals.events += sum(len(p.pending_events) for p in patients)
    app.save_patients(patients)


def load_demo(
    app: GuardianApp,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Load the organisations and the synthetic cohort once; later calls write nothing.

    Returns a summary: `patients`, `pathways`, `events` (written by this call),
    `already_loaded`, `seed`, `as_of` and a one-line `message`.
    """
    marker = read_marker(app)
    if marker is not None:
        return {
            **marker,
            "events": 0,
            "already_loaded": True,
            "message": (
                f"The demo is already loaded ({marker.get('patients', 0):,} patients, seed "
                f"{marker.get('seed')}, as of {marker.get('as_of')}); nothing was written."
            ),
        }
    if patients < 1:
        raise ValueError("the demo needs at least one patient")
    started = time.monotonic()
    as_of = as_of or app.today()
    practices = read_org_file(ORGS_FILE)
    load_orgs(app.engine, practices)
    load_providers(app.engine, read_providers_file(PROVIDERS_FILE))
    totals = _Totals()
    with bulk_gc():
        for batch in chunks(cohort(patients, seed, as_of, practices), SAVE_BATCH):
            _load_batch(app, batch, seed, as_of, totals)
    app.record_extract_dates(dict.fromkeys(sorted(totals.providers), as_of))
    marker = {"patients": totals.patients, "pathways": totals.pathways, "seed": seed,
              "as_of": as_of.isoformat()}
    _write_marker(app, marker)
    seconds = round(time.monotonic() - started, 1)
    places = len({p.place for p in practices})
    pcns = len({p.pcn_code for p in practices})
    return {
        **marker,
        "events": totals.events,
        "practices": len(practices),
        "pcns": pcns,
        "places": places,
        "already_loaded": False,
        "seconds": seconds,
        "message": (
            f"Loaded the synthetic Mid and South Essex demo: {len(practices)} practices in "
            f"{pcns} PCNs and {places} places, {totals.patients:,} patients, "
            f"{totals.pathways:,} pathways, {totals.events:,} events (seed {seed}, as of "
            f"{as_of.isoformat()}) in {seconds:g} s."
        ),
    }



def add_demo_contacts(engine: Any) -> int:
    """Give every demo practice and hospital an address at demo.invalid (a domain that
    never receives mail), so that the demo makes their messages and digests
    (docs/notifications.md); an address already set is kept. Returns how many were set."""
    from sqlalchemy import select

    from guardian.notifications.contacts import set_org_contact
    from guardian.notifications.schema import org_contacts
    from guardian.orgs import all_practices
    from guardian.store import providers

    with engine.connect() as conn:
        have = set(conn.execute(select(org_contacts.c.code)).scalars())
        codes = [*all_practices(conn), *conn.execute(select(providers.c.provider_code)).scalars()]
    added = 0
    for code in codes:
        if code not in have:
            set_org_contact(engine, code, email=f"{code.lower()}@demo.invalid")
            added += 1
    return added
