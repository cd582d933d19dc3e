"""One referral in the PTL row shape (`POST /api/v1/referrals`), through the importer's rules.

JSON keys are the CSV column names in lower case and values are strings (docs/api.md). The
same parser and the same use case as the PTL import decide what is valid and what changes;
only the transport differs. The HTTP route and its scope check come with sign-in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from guardian.application import OutsideScope, ReportOutcome
from guardian.domain.report import ReferralReport
from guardian.ingest.ptl import COLUMNS, RecordParser


@dataclass(frozen=True)
class ReferralSubmission:
    result: str  # "created", "updated", "unchanged" or "rejected"
    errors: dict[str, str] = field(default_factory=dict)  # field (lower case) → message
    provider: str | None = None
    pathway_id: str | None = None
    outside_scope: bool = False  # refused: the pathway is registered outside the scope

    @property
    def status_code(self) -> int:
        """201 created, 200 unchanged or updated, 422 with field errors."""
        return {"created": 201, "rejected": 422}.get(self.result, 200)


def submit_referral(
    app,
    record: Mapping[str, object],
    allowed_practices: frozenset[str] | set[str],
    as_of: dt.date | None = None,
    scope: frozenset[str] | None = None,
    on_decided: Callable[[ReportOutcome, ReferralReport], None] | None = None,
) -> ReferralSubmission:
    """Validate and apply one referral, as of today unless told otherwise.

    `allowed_practices` is the caller's scope: a practice outside it is a field error (422),
    exactly like a practice missing from the organisation reference. `scope` is what
    `GuardianApp.apply_reports` checks once the referral is valid (None for an admin): a
    known pathway registered outside it is refused, and the patient's own details are
    changed only by a scope that takes in every open pathway of the patient. `on_decided`
    is told the outcome before it is written (for its audit entry).
    """
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    known = {c.lower(): c for c in COLUMNS}
    for key, value in record.items():
        column = known.get(str(key).lower())
        if column is None:
            continue  # unknown keys are ignored, as unknown CSV columns are
        if value is not None and not isinstance(value, str):
            errors[column.lower()] = f"{column.lower()} must be a string"
            continue
        values[column] = value or ""
    if errors:
        return ReferralSubmission("rejected", errors)
    from guardian.orgs import all_practices

    parser = RecordParser(as_of or app.today(), frozenset(all_practices(app.engine)))
    report, problems = parser.parse(values.get)
    if report is None:
        for column, message in problems:
            errors.setdefault((column or "record").lower(), message)
        return ReferralSubmission("rejected", errors)
    if report.practice_code not in allowed_practices:
        return ReferralSubmission(
            "rejected",
            {
                "general_medical_practice_code": f"practice {report.practice_code} is outside "
                "the practices you may record referrals for"
            },
        )
    def decided(outcomes: list[ReportOutcome]) -> None:
        if on_decided is not None:
            on_decided(outcomes[0], report)

    (outcome,) = app.apply_reports([report], scope=scope, on_decided=decided)
    if outcome.result == "rejected":
        field_name = (outcome.error.field or "record").lower() if outcome.error else "record"
        message = outcome.error.message if outcome.error else "rejected"
        return ReferralSubmission("rejected", {field_name: message},
                                  outside_scope=isinstance(outcome.error, OutsideScope))
    return ReferralSubmission(outcome.result, {}, report.provider, report.pathway_id)
