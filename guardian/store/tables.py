"""The store's tables: the one place their names are written.

The event store's table (`EVENTS_TABLE`, the library's stored events with their
notification ids) and Guardian's own tables that go with it: the deployment's meta values
(its id namespace), the organisation reference and the providers' names, the pathway index
and the latest extract per provider, and the append-only audit log that an action's entry
is written to in the same transaction as its events. Every module that writes SQL against
one of these takes its name from here (`EVENTS_TABLE`, `pathway_index.name` …). Read models
and accounts define their own tables on the same `metadata`.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.schema import DDL, Column, Index, MetaData, Table
from sqlalchemy.types import BigInteger, Date, DateTime, Integer, String, Text

# The application's name, which the event store's tables are named after.
APP_NAME = "guardian"
# The stored events (eventsourcing-sqlalchemy's table: id, originator_id,
# originator_version, topic, state); also the PostgreSQL channel each write NOTIFYs.
EVENTS_TABLE = f"{APP_NAME}_events"

metadata = MetaData()

# The deployment's own values: its id namespace ("id_namespace").
meta_table = Table("guardian_meta", metadata,
                   Column("key", String(64), primary_key=True),
                   Column("value", Text, nullable=False))

# The latest extract applied per provider (an older one is refused whole).
provider_extracts = Table("provider_extracts", metadata,
                          Column("provider", String(8), primary_key=True),
                          Column("last_as_of", Date, nullable=False))

organisations = Table(
    "organisations",
    metadata,
    Column("practice_code", String(8), primary_key=True),
    Column("practice_name", Text, nullable=False),
    Column("pcn_code", String(8), nullable=False),
    Column("pcn_name", Text, nullable=False),
    Column("place", Text, nullable=False),
    Index("organisations_pcn", "pcn_code"),
    Index("organisations_place", "place"),
)

# Hospital providers' names by ODS code (`guardian orgs load` with a providers file).
providers = Table(
    "providers",
    metadata,
    Column("provider_code", String(8), primary_key=True),
    Column("provider_name", Text, nullable=False),
)

# Where each known pathway lives and a digest of what its provider last reported.
# Written in the same transaction as the events; rebuildable from them
# (`PatientRepository.rebuild_index`).
pathway_index = Table(
    "pathway_index",
    metadata,
    Column("provider", String(8), primary_key=True),
    Column("pathway_id", String(64), primary_key=True),
    Column("patient_id", String(32), nullable=False),
    Column("fingerprint", String(24), nullable=False),
    # O: on the waiting list; L: left the list (full snapshot); S: clock stopped or closed
    Column("state", String(1), nullable=False),
    # `GET /api/v1/referrals/{pathway_id}` finds a pathway by its id alone
    Index("pathway_index_pathway_id", "pathway_id"),
)

# Who did or saw what, when, from where (guardian/audit.py writes and reads it).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_email", String(254)),
    Column("role", String(16)),
    Column("action", String(64), nullable=False),
    Column("patient_id", String(32)),  # the Patient aggregate id, hex
    Column("provider", String(8)),
    Column("pathway_id", String(64)),
    Column("detail", Text),
    Column("client", String(64)),
    Column("user_agent", Text),
    Index("audit_log_user", "user_email", "id"),
    Index("audit_log_patient", "patient_id", "id"),
    # the practices' weekly digest counts a week's status questions by action and time
    Index("audit_log_action_at", "action", "at"),
)

# The audit log is append-only: triggers created with the table abort any UPDATE or DELETE
# (and TRUNCATE on PostgreSQL).
_APPEND_ONLY = "audit_log is append-only: its rows cannot be changed or deleted"
for _dialect, _statements in {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN "
        f"RAISE EXCEPTION '{_APPEND_ONLY}'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
}.items():
    for _sql in _statements:
        event.listen(audit_log, "after_create", DDL(_sql).execute_if(dialect=_dialect))
