"""Domain events to stored events and back: the library's mapper, made cheap per event.

The stored form is the library's (a topic from the event class's explicit TOPIC, JSON state
without the originator id and version) with one more transcoding: dates as ISO dates
(`DateAsISO`). `make_mapper` builds the mapper both patient repositories use, so every
event already written keeps loading.
"""

from __future__ import annotations

import datetime as dt
import json
import json.encoder
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic


class DateAsISO(Transcoding):
    """Dates are stored as ISO dates, not timestamps (the event store has no date type)."""

    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class FastMapper(Mapper[UUID]):
    """The library's mapper, minus per-event overhead that matters at import volumes.

    Same stored form: topic from the class's explicit TOPIC, JSON state without the
    originator id and version, transcodings for dates, datetimes and UUIDs.
    """

    def __init__(self, transcoder: JSONTranscoder) -> None:
        super().__init__(transcoder=transcoder)
        self._topics: dict[type, str] = {}
        make = getattr(json.encoder, "c_make_encoder", None)
        self._dates: dict[dt.date, dict[str, str]] = {}
        self._encode_obj = transcoder._encode_obj
        self._encode_c = (
            make(None, self._default, json.encoder.encode_basestring, None,
                 ":", ",", False, False, True)
            if make is not None
            else None
        )

    def _default(self, obj: Any) -> Any:
        """The transcodings, with the (few, often repeated) dates encoded once."""
        if type(obj) is dt.date:
            encoded = self._dates.get(obj)
            if encoded is None:
                encoded = self._encode_obj(obj)
                if len(self._dates) < 50_000:
                    self._dates[obj] = encoded
            return encoded
        return self._encode_obj(obj)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        topic = self._topics.get(cls)
        if topic is None:
            topic = self._topics[cls] = get_topic(cls)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if self._encode_c is None or getattr(cls, "class_version", 1) > 1:
            return super().to_stored_event(domain_event)
        data = "".join(self._encode_c(state, 0)).encode("utf8")
        return StoredEvent(originator_id, originator_version, topic, data)


def make_mapper() -> FastMapper:
    """The mapper with the library's transcodings (UUIDs, decimals, datetimes) and dates."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return FastMapper(transcoder)
