"""The PCN worklist: one row per open pathway, what a coordinator works from.

A row is recomputed from the whole Patient whenever one of the patient's events arrives, so
it is always the aggregate's view (stage, deadlines from the standards table, what is
outstanding). Rebuilt rather than folded from events: the stage, the deadlines and the
sweep's findings are the domain's rules (docs/rules.md §2–§4, §9), and folding would write
them a second time here. Nearly every event changes a row; those that change none
(`UNAFFECTED_BY`) are skipped. Deadline *dates* are stored, never day counts: whether a
pathway is breached or at risk is decided at query time against the day asked about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    select,
    text,
    true,
)

from guardian.domain import checkins, standards, urgency
from guardian.domain.patient import Patient
from guardian.domain.visibility import goes_with, reported_details
from guardian.projections.readmodel import ReadModel, Rows
from guardian.projections.tables import pathway_key
from guardian.projections.worklist_filters import FILTER_LABELS as FILTER_LABELS  # its interface
from guardian.projections.worklist_filters import FILTERS, condition
from guardian.projections.worklist_order import (
    KEY_NAMES,
    keyset,
    position_after,
    urgency_choice,
)
from guardian.store import metadata

NAME = "worklist"


# Partial-index predicates, written as the filters render them (worklist_filters.py).
_RARE_FLAGS = {"deterioration": "deterioration_since IS NOT NULL",
               "unanswered": "unanswered_messages > 0"}


# What the filters and drop-downs read (worklist_filters.py, ATTRIBUTES), carried in the
# entries of each order's index on PostgreSQL.
FILTERED = ["news_on", "priority", "next_at_risk_from", "next_breach_on", "deterioration_since",
            "workup_outstanding", "oldest_diagnostic_on", "coordinator", "unanswered_messages",
            "diagnostics_outstanding", "left_list_on", "check_in_due", "practice_code",
            "treatment_function", "stage"]


def _define(name: str, md: MetaData) -> Table:
    return Table(
        name, md, *pathway_key(),
        Column("patient_id", String(32), nullable=False),
        Column("nhs_number", String(10), nullable=False),
        Column("given_name", Text),
        Column("family_name", Text),
        Column("birth_date", Date, nullable=False),
        Column("practice_code", String(8), nullable=False),
        Column("pcn_code", String(8)),
        Column("place", Text),
        Column("treatment_function", String(3), nullable=False),
        Column("priority", Integer, nullable=False),
        Column("waiting_list_type", String(4), nullable=False),
        Column("procedure_priority", String(3)),
        Column("stage", String(32), nullable=False),
        Column("received_on", Date, nullable=False),
        Column("clock_start", Date),
        Column("next_deadline", Date),  # the earliest last day within of any standard
        Column("next_standard", String(32)),
        Column("next_breach_on", Date),
        Column("next_at_risk_from", Date),
        Column("breaches", Integer, nullable=False),  # breaches recorded by the sweep
        Column("workup_outstanding", Integer, nullable=False),
        Column("diagnostics_outstanding", Integer, nullable=False),
        Column("oldest_diagnostic_on", Date),
        Column("deterioration_since", Date),  # oldest unreviewed deterioration flag
        # The day of the newest breach or unreviewed flag no coordinator has seen yet, and
        # the same day as it sorts newest first (the urgency order, docs/rules.md §11).
        Column("news_on", Date),
        Column("news_sort", Date),
        Column("last_contact_on", Date),
        Column("coordinator", Text),
        Column("unanswered_messages", Integer, nullable=False),
        Column("oldest_unanswered_on", Date),
        Column("awaiting_reply_since", Date),  # Guardian wrote last, no answer yet
        Column("left_list_on", Date),
        # Waiting Well (docs/rules.md §8): the open check-in's due date, for the
        # "check-in-due" filter.
        Column("check_in_due", Date),
        Column("validated_on", Date),
        # What the scheduled jobs look for (docs/rules.md §3, §8), so they load only the
        # patients with something to record, never every aggregate: the first day on which
        # the sweep has a breach, an at-risk warning or a withdrawal to record (0001-01-01:
        # at once), and the first day a check-in falls due. Null: nothing pending.
        Column("sweep_due_on", Date),
        Column("check_in_next_on", Date),
        # Sort keys, never null so that keyset paging works alike on both backends:
        # the next deadline (none: last), and when the wait began (clock start, else received).
        Column("deadline_sort", Date, nullable=False),
        Column("wait_from", Date, nullable=False),
        # The urgency order's key (docs/rules.md §11) on the day the row was written, and
        # the span of days [urgency_from, urgency_until) it holds for: a page reads the key
        # from here where it holds and computes it where it does not, so the order never
        # depends on when the row was written (guardian/projections/worklist_order.py).
        Column("urgency_tier", Integer, nullable=False),
        Column("urgency_day", Date, nullable=False),
        Column("urgency_cancer", Integer, nullable=False),
        Column("urgency_from", Date, nullable=False),
        Column("urgency_until", Date, nullable=False),
        # Each sort order's index carries every column a filter or a drop-down reads
        # (worklist_filters.py), so a page's keys are found in the index alone on PostgreSQL.
        Index(f"{name}_pcn_deadline", "pcn_code", "deadline_sort", "provider", "pathway_id",
              postgresql_include=FILTERED),
        Index(f"{name}_pcn_wait", "pcn_code", "wait_from", "provider", "pathway_id",
              postgresql_include=FILTERED),
        # Rare flags (about 1 % of rows): small partial indexes in each sort order, so a
        # filtered page reads its 50 rows instead of every row of the PCN.
        *[Index(f"{name}_pcn_{flag}_{sort}", "pcn_code", key, "provider", "pathway_id",
                postgresql_where=text(where), sqlite_where=text(where))
          for flag, where in _RARE_FLAGS.items()
          for sort, key in (("deadline", "deadline_sort"), ("wait", "wait_from"))],
        # The urgency order's stored key, so a PCN's first page is the first 50 entries of
        # the index; on PostgreSQL it also carries every column a filter, a drop-down, a
        # count or the key computed afresh reads, so that the counts beside the filters and
        # the rows whose stored key does not hold are an index-only scan too.
        Index(f"{name}_pcn_urgency", "pcn_code", "urgency_tier", "urgency_day",
              "urgency_cancer", "provider", "pathway_id",
              postgresql_include=["urgency_from", "urgency_until", "deadline_sort",
                                  "news_sort", *FILTERED]),
        # The rows of a PCN whose stored key does not hold on the day asked about (a few
        # after midnight, until the sweep's refresh; any, for a day in the past).
        Index(f"{name}_pcn_urgency_until", "pcn_code", "urgency_until"),
        Index(f"{name}_pcn_urgency_from", "pcn_code", "urgency_from"),
        Index(f"{name}_coordinator", "coordinator"),
        Index(f"{name}_patient", "patient_id"),
        Index(f"{name}_sweep_due", "sweep_due_on"),
        Index(f"{name}_check_in_next", "check_in_next_on"),
    )


def _define_periods(name: str, md: MetaData) -> Table:
    """Every RTT period of every pathway, stopped ones included (the RTT export's facts)."""
    return Table(
        name, md, *pathway_key(),
        Column("period", Integer, primary_key=True),  # 0 = first period
        Column("patient_id", String(32), nullable=False),
        Column("practice_code", String(8), nullable=False),
        Column("treatment_function", String(3), nullable=False),
        Column("waiting_list_type", String(4), nullable=False),
        Column("clock_start", Date, nullable=False),
        Column("clock_end", Date),
        Index(f"{name}_patient", "patient_id"),
        Index(f"{name}_start", "clock_start"),
    )


worklist = _define(NAME, metadata)
# A row as read: without its stored urgency key (a page gives the key that holds on its day).
ROW_COLUMNS = [c for c in worklist.c if c.name not in KEY_NAMES
               and c.name not in ("urgency_from", "urgency_until")]
rtt_periods = _define_periods("rtt_periods", metadata)
NO_DEADLINE = urgency.NO_DEADLINE
# A support offer is the only event that changes nothing a row here is made of.
UNAFFECTED_BY = frozenset({"guardian.Patient.SupportOffered"})


def periods_for(patient: Patient) -> list[dict[str, Any]]:
    """One row per RTT period (earlier periods and the current one) of every pathway."""
    rows = []
    for p in patient.pathways.values():
        periods = [(e.clock_start, e.clock_end) for e in p.earlier_periods]
        if p.clock_start is not None:
            periods.append((p.clock_start, p.clock_end))
        for n, (start, end) in enumerate(periods):
            rows.append({
                "provider": p.provider, "pathway_id": p.pathway_id, "period": n,
                "patient_id": patient.id.hex, "practice_code": p.practice_code,
                "treatment_function": p.treatment_function,
                "waiting_list_type": p.waiting_list_type,
                "clock_start": start, "clock_end": end,
            })
    return rows


def rows_for(
    patient: Patient,
    orgs: dict[str, Any],
    bank_holidays=None,
    table: Sequence[standards.Standard] = standards.STANDARDS,
    schedule: checkins.CheckInSchedule = checkins.DEFAULT_SCHEDULE,
    on: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The worklist rows of one patient: one per open pathway.

    `table` and `schedule` are the deployment's standards and check-in schedule; `on` is
    the day whose urgency key is stored (today when None): only which rows a page reads the
    key of rather than computes, never the order, depends on it.
    """
    on = on or dt.date.today()
    all_flags = tuple(patient.flags.values())
    flags = [f for f in all_flags if f.reviewed_on is None]
    rows = []
    for p in patient.pathways.values():
        if not p.is_open:
            continue
        # a row shows the patient as reported with its own pathway (docs/access.md)
        details = reported_details(patient, (p.key,))
        last_contact = max((c.on for c in patient.contacts.values()
                            if goes_with(c.pathway, {p.key}, True)), default=None)
        pathway_flags = [f for f in flags if f.pathway is None or f.pathway == p.key]
        news_on = max([*p.unseen_breach_dates(),
                       *(f.raised_on for f in pathway_flags if not f.seen)], default=None)
        tracked = standards.tracked_deadlines(p, all_flags, table, bank_holidays)
        # For an open pathway the outstanding tracked deadlines are `standards.deadlines`.
        first = next((t.deadline for t in tracked if t.done_on is None), None)
        findings = standards.wait_findings(p, all_flags, table, bank_holidays, tracked)
        org = orgs.get(p.practice_code)
        unanswered = p.unanswered_messages()
        waiting_tests = p.outstanding_diagnostics()
        last_day = first.last_day_within if first else None
        key, key_from, key_until = urgency.stored(
            news_on, p.priority, first.at_risk_from if first else None,
            first.breach_on if first else None, last_day, on)
        rows.append(
            {
                "provider": p.provider,
                "pathway_id": p.pathway_id,
                "patient_id": patient.id.hex,
                "nhs_number": patient.nhs_number,
                "given_name": details["given_name"],
                "family_name": details["family_name"],
                "birth_date": details["birth_date"],
                "practice_code": p.practice_code,
                "pcn_code": org.pcn_code if org else None,
                "place": org.place if org else None,
                "treatment_function": p.treatment_function,
                "priority": p.priority,
                "waiting_list_type": p.waiting_list_type,
                "procedure_priority": p.procedure_priority,
                "stage": standards.stage(p),
                "received_on": p.received_on,
                "clock_start": p.clock_start,
                "next_deadline": first.last_day_within if first else None,
                "next_standard": first.standard.code if first else None,
                "next_breach_on": first.breach_on if first else None,
                "next_at_risk_from": first.at_risk_from if first else None,
                "breaches": len(p.breaches),
                "workup_outstanding": len(p.outstanding_workup()),
                "diagnostics_outstanding": len(waiting_tests),
                "oldest_diagnostic_on": min((d.ordered_on for d in waiting_tests), default=None),
                "deterioration_since": min((f.raised_on for f in pathway_flags), default=None),
                "news_on": news_on,
                "news_sort": urgency.descending(news_on) if news_on else None,
                "last_contact_on": last_contact,
                "coordinator": p.coordinator,
                "unanswered_messages": len(unanswered),
                "oldest_unanswered_on": min((m.on for m in unanswered), default=None),
                "awaiting_reply_since": _awaiting_reply(p),
                "left_list_on": p.left_list_on,
                "check_in_due": p.check_in.due_on if p.check_in else None,
                "validated_on": p.validated_on,
                "sweep_due_on": standards.sweep_due_on(findings),
                "check_in_next_on": checkins.next_check_in(p, schedule),
                "deadline_sort": first.last_day_within if first else NO_DEADLINE,
                "wait_from": p.clock_start or p.received_on,
                "urgency_tier": key[0], "urgency_day": key[1], "urgency_cancer": key[2],
                "urgency_from": key_from, "urgency_until": key_until,
            }
        )
    return rows


def _awaiting_reply(p) -> dt.date | None:
    """The day of Guardian's oldest message to the GP practice or the hospital that nothing
    has come back to yet (docs/rules.md, "Messages": `Pathway.reply_to`)."""
    return min((m.on for m in p.messages.values() if m.direction == "out"
                and m.party in ("gp", "hospital") and p.reply_to(m) is None), default=None)


class WorklistProjection(ReadModel):
    """A row per open pathway and every RTT period, rebuilt per patient."""

    name = NAME
    definers = ((worklist, _define), (rtt_periods, _define_periods))
    unaffected_by = UNAFFECTED_BY

    def rows(self, app: Any, patients: list[Patient], orgs: dict[str, Any]) -> Rows:
        settings = app.settings
        return [
            [row for p in patients
             for row in rows_for(p, orgs, None, settings.standards, settings.check_in_schedule,
                                 app.today())],
            [row for p in patients for row in periods_for(p)],
        ]


# ---------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Scope:
    """What the signed-in user may see: PCN codes (None: every PCN, for admins)."""

    pcns: frozenset[str] | None
    user: str | None = None
    # Care coordinators whose accounts are disabled: their pathways count as unassigned
    # (docs/access.md, "Someone leaves").
    gone: frozenset[str] = frozenset()

    def allows(self, pcn: str) -> bool:
        return self.pcns is None or pcn in self.pcns


# "urgency" (the default): docs/rules.md §11, guardian/domain/urgency.py.
SORTS = ("urgency", "next-deadline", "days-waiting")
SORT_LABELS = {"urgency": "What needs doing first", "next-deadline": "Next deadline",
               "days-waiting": "Longest waiting"}
# Exact-match attribute filters (the worklist's drop-downs).
ATTRIBUTES = ("practice_code", "provider", "treatment_function", "priority", "stage")


def _scoped(scope: Scope, pcn: str | None):
    """The rows a query may see: one PCN (if in scope) or every PCN in scope."""
    w = worklist
    if pcn is not None:
        return w.c.pcn_code == pcn if scope.allows(pcn) else None
    if scope.pcns is None:
        return true()
    if not scope.pcns:
        return None
    return w.c.pcn_code.in_(sorted(scope.pcns))


def _attribute_clauses(attrs: dict[str, Any] | None) -> list[Any]:
    clauses = []
    for name, value in (attrs or {}).items():
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; one of {', '.join(ATTRIBUTES)}")
        if value in (None, ""):
            continue
        clauses.append(worklist.c[name] == value)
    return clauses


def page(
    conn: Connection,
    scope: Scope,
    pcn: str | None,
    on: dt.date,
    filters: Sequence[str] = (),
    sort: str = "urgency",
    after: tuple[Any, ...] | None = None,
    limit: int = 50,
    attrs: dict[str, Any] | None = None,
    before: tuple[Any, ...] | None = None,
) -> list[dict[str, Any]]:
    """One page of a PCN's worklist (or of every PCN in scope when `pcn` is None),
    keyset-paged on the sort key, provider and pathway id: the `limit` rows after the
    position `after`, or, given `before`, the `limit` rows just before that position (the
    previous page), in order.

    Out of scope, the answer is an empty page: callers turn that into a 404. For several
    PCNs, each PCN's page is read along its own (PCN, sort key) index and the pages
    merged: one ordered scan per PCN instead of sorting every row of them all. The
    urgency order depends on the day: a page takes each row's stored key where it holds on
    `on` and computes the others' (worklist_order.urgency_choice), the page's keys first,
    then their rows.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    if before is None and pcn is None and scope.pcns is not None and 1 < len(scope.pcns) <= 8:
        rows = [row for code in sorted(scope.pcns)
                for row in page(conn, scope, code, on, filters, sort, after, limit, attrs)]
        rows.sort(key=lambda r: position_after(sort, r))
        return rows[:limit]
    backwards = before is not None
    # the user and the departed read only by their filters: other views share statements
    shared = Scope(scope.pcns, scope.user if "assigned-to-me" in filters else None,
                   scope.gone if "unassigned" in filters else frozenset())
    q = _page_statement(shared, pcn, on, tuple(filters), sort,
                        tuple(before if backwards else after or ()) or None, backwards, limit,
                        tuple(sorted((attrs or {}).items())))
    if q is None:
        return []
    result = conn.execute(q)
    names = list(result.keys())
    rows = [dict(zip(names, r, strict=True)) for r in result]
    return rows[::-1] if backwards else rows


@lru_cache(maxsize=256)
def _page_statement(scope: Scope, pcn: str | None, on: dt.date, filters: tuple[str, ...],
                    sort: str, position: tuple[Any, ...] | None, backwards: bool, limit: int,
                    attrs: tuple[tuple[str, Any], ...]) -> Any:
    """`page`'s statement (None: nothing in scope), built once for the same arguments: a
    worklist's first pages are asked for again and again, and building the statement costs
    more than the database takes to answer it (it is still asked every time)."""
    where = _scoped(scope, pcn)
    if where is None:
        return None
    w = worklist
    clauses = [where, *_attribute_clauses(dict(attrs)),
               *[condition(worklist, f, on, scope) for f in filters]]
    if sort == "urgency":
        # Two steps: the page's keys in order (stored where they hold, else computed), then
        # their rows.
        chosen = urgency_choice(w, on, clauses, position, backwards, limit)
        keys = [chosen.c[name] for name in KEY_NAMES]
        return (select(*ROW_COLUMNS, *keys)
                .join_from(w, chosen, and_(w.c.provider == chosen.c.provider,
                                           w.c.pathway_id == chosen.c.pathway_id))
                .order_by(*[k.desc() if backwards else k
                            for k in (*keys, chosen.c.provider, chosen.c.pathway_id)]))
    # The same two steps: the keys along the (PCN, sort key) index, whose entries carry
    # every column a filter reads (an index-only scan on PostgreSQL), then the rows.
    keys = [w.c.deadline_sort if sort == "next-deadline" else w.c.wait_from,
            w.c.provider, w.c.pathway_id]
    chosen = (select(*keys).where(*clauses, keyset(keys, position, backwards))
              .order_by(*[k.desc() if backwards else k for k in keys]).limit(limit)
              .subquery())
    return (select(*ROW_COLUMNS)
            .join_from(w, chosen, and_(w.c.provider == chosen.c.provider,
                                       w.c.pathway_id == chosen.c.pathway_id))
            .order_by(*[k.desc() if backwards else k for k in chosen.c]))


def counts(
    conn: Connection,
    scope: Scope,
    pcn: str | None,
    on: dt.date,
    attrs: dict[str, Any] | None = None,
    filters: Sequence[str] = (),
) -> dict[str, int]:
    """How many rows each filter would give (with the attribute filters applied), the
    total, and how many match all of `filters` ("matching"), in one query: the numbers
    beside each filter and above the table."""
    q = _counts_statement(scope, pcn, on, tuple(sorted((attrs or {}).items())), tuple(filters))
    if q is None:
        return {"all": 0, "matching": 0, **{f: 0 for f in FILTERS}}
    row = conn.execute(q).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


@lru_cache(maxsize=256)
def _counts_statement(scope: Scope, pcn: str | None, on: dt.date,
                      attrs: tuple[tuple[str, Any], ...], filters: tuple[str, ...]) -> Any:
    """`counts`' statement (None: nothing in scope), built once for the same arguments."""
    where = _scoped(scope, pcn)
    if where is None:
        return None
    matching = and_(true(), *[condition(worklist, f, on, scope) for f in filters])
    columns = [func.count().label("all"),
               func.coalesce(func.sum(case((matching, 1), else_=0)), 0).label("matching")] + [
        func.coalesce(func.sum(case((condition(worklist, f, on, scope), 1), else_=0)), 0).label(f)
        for f in FILTERS
    ]
    return select(*columns).select_from(worklist).where(where,
                                                        *_attribute_clauses(dict(attrs)))


def facets(conn: Connection, scope: Scope, pcn: str | None) -> dict[str, list[Any]]:
    """The values present in scope for each attribute filter (for the drop-downs)."""
    where = _scoped(scope, pcn)
    if where is None:
        return {a: [] for a in ATTRIBUTES}
    w = worklist
    return {
        a: sorted(v for (v,) in conn.execute(select(w.c[a]).where(where).distinct())
                  if v is not None)
        for a in ATTRIBUTES
    }


def patient_rows(conn: Connection, patient_id: UUID) -> list[dict[str, Any]]:
    q = select(*ROW_COLUMNS).where(worklist.c.patient_id == patient_id.hex)
    return [dict(r._mapping) for r in conn.execute(q)]
