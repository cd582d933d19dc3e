"""Read models skip the events that change none of their rows, and only those.

The stored-history fixture (tests/fixtures/patient_history.json) holds histories that use
every Patient event type: replayed one event at a time, an event a read model skips never
changes that read model's rows of the patient. (On both backends, test_worklist.py checks that
a skipped event moves the position without loading its patient.)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from guardian.domain import checkins, standards
from guardian.projections.registry import all_projections
from guardian.store import make_mapper

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "patient_history.json"
EVERY_PRACTICE = SimpleNamespace(place="Mid Essex", pcn_code="U90001")
APP = SimpleNamespace(settings=SimpleNamespace(standards=standards.STANDARDS,
                                               check_in_schedule=checkins.DEFAULT_SCHEDULE),
                      today=lambda: dt.date(2026, 12, 7))


class _AnyPractice(dict):
    def get(self, code: str, default: Any = None) -> Any:
        return EVERY_PRACTICE


def test_every_topic_a_read_model_skips_is_an_event_this_version_knows():
    for projection in all_projections():
        for topic in projection.unaffected_by:
            assert get_topic(resolve_topic(topic)) == topic, (projection.name, topic)


def test_a_skipped_event_changes_none_of_the_read_models_rows():
    fixture = json.loads(FIXTURE.read_text())
    to_event = make_mapper().to_domain_event
    histories: dict[str, list[StoredEvent]] = {}
    for row in fixture["events"]:
        histories.setdefault(row["originator_id"], []).append(StoredEvent(
            UUID(row["originator_id"]), row["originator_version"], row["topic"],
            row["state"].encode()))
    checked: set[tuple[str, str]] = set()
    for stored in histories.values():
        patient = None
        for s in stored:
            before = {p.name: p.rows(APP, [patient], _AnyPractice()) for p in all_projections()
                      if patient is not None and not p.reads(s.topic)}
            patient = to_event(s).mutate(patient)
            for p in all_projections():
                if p.name in before:
                    assert p.rows(APP, [patient], _AnyPractice()) == before[p.name], \
                        (p.name, s.topic)
                    checked.add((p.name, s.topic))
    skipped = {(p.name, t) for p in all_projections() for t in p.unaffected_by}
    assert checked == skipped  # the fixture exercises every topic skipped
