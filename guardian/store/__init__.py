"""Persistence: the event store (eventsourcing-sqlalchemy) and Guardian's tables beside it.

One SQLAlchemy engine per process serves the event store and every table. The package is in
rooms: `tables` (every table's name and definition, `EVENTS_TABLE` included), `schema`
(creating and upgrading them: `guardian db init`), `bulk` (driver-level reads and writes),
`recorder` (the event store's recorder and factory), `mapper` (events to stored events),
and the patient repositories — `base` (their interface), `repository` (the database's) and
`memory` (in memory, for unit tests). The names other modules use are exported here.
"""

from guardian.store.base import (
    BasePatientRepository,
    IndexEntry,
    PatientNotFound,
    StagedWrite,
    index_rows,
)
from guardian.store.bulk import (
    bulk_insert,
    chunks,
    copy_rows,
    dialect_insert,
    param_mark,
    select_in,
    upsert,
)
from guardian.store.mapper import DateAsISO, FastMapper, make_mapper
from guardian.store.memory import InMemoryPatientRepository
from guardian.store.recorder import GuardianFactory, GuardianRecorder, open_factory
from guardian.store.repository import PatientRepository, as_uuid
from guardian.store.schema import (
    add_missing_columns,
    create_schema,
    ensure_sqlite_directory,
    prepare_engine,
    read_namespace,
)
from guardian.store.tables import (
    APP_NAME,
    EVENTS_TABLE,
    audit_log,
    meta_table,
    metadata,
    organisations,
    pathway_index,
    provider_extracts,
    providers,
)

__all__ = [
    "APP_NAME", "EVENTS_TABLE", "BasePatientRepository", "DateAsISO", "FastMapper",
    "GuardianFactory", "GuardianRecorder", "InMemoryPatientRepository", "IndexEntry",
    "PatientNotFound", "PatientRepository", "StagedWrite", "add_missing_columns", "as_uuid",
    "audit_log",
    "bulk_insert", "chunks", "copy_rows", "create_schema", "dialect_insert",
    "ensure_sqlite_directory", "index_rows", "make_mapper", "meta_table", "metadata",
    "open_factory", "organisations", "param_mark", "pathway_index", "prepare_engine",
    "provider_extracts", "providers", "read_namespace", "select_in", "upsert",
]
