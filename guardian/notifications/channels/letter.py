"""Printable letters: sending one stores its print-ready page for the patient's PCN, where
the Guardian team prints and posts it (the letters page), and records who printed it. A
national messaging service would be another channel with the same interface."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine

from guardian.notifications.channels import Outgoing, SendFailed
from guardian.notifications.schema import letters
from guardian.store import dialect_insert


class Letter:
    name = "letter"

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Letter]:
        yield self

    def send(self, row: Any, message: Outgoing) -> None:
        pcn = json.loads(row.context).get("pcn_code")
        if not pcn or not row.patient_id:
            raise SendFailed("a letter needs the patient's PCN", permanent=True)
        with self.engine.begin() as conn:
            conn.execute(dialect_insert(conn, letters).values(
                notification_id=row.id, patient_id=row.patient_id, pcn_code=pcn,
                html=message.html, made_at=dt.datetime.now(dt.UTC),
            ).on_conflict_do_nothing(index_elements=["notification_id"]))
