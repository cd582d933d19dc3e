"""The JSON API under /api/v1 (docs/api.md): the same use cases, read models and
scopes as the pages, for scripts and other systems. This package puts its route groups
together in one router: referrals (`referrals`, their shapes in `referral_models`), PCN
worklists (`worklists`), the patient search (`patients`), place reports (`reports`), the
patient page's actions, the contact preference and bulk assign as commands (`commands`,
their shapes in `command_models`), the inbox, letters and outbox (`inbox`), a patient as
their page shows them (`patient_record`), notification settings, the print queue and the
outbox's counts (`notices`), user management (`admin_users`, shapes in `user_models`),
the audit log (`audit_log`) and a GP practice's overview (`practices`); what every route
answers besides its own body is in `answers`. Every route counts against the
caller's rate limit (guardian/web/rate_limit.py). The schema and Swagger UI
are the app's (guardian/web/docs.py).

Credentials: `Authorization: Bearer <token>` (from `guardian users token`) or a session
cookie (state-changing requests made with a session also need `X-CSRF-Token`). Without
either, 401. Out-of-scope answers are 404 whatever the reason, so nothing reveals whether a
patient, a PCN or a place exists outside the caller's scope (guardian/web/access.py).

| route | who | answers |
| --- | --- | --- |
| `POST /referrals` | coordinator (their PCNs' practices), admin | 201, 200, 409, 422 |
| `GET /referrals/{pathway_id}` | coordinator, GP (their practice), admin | 200, 409, 422 |
| `GET /worklists/{pcn_code}` | coordinator (their PCNs), admin | 200, 422 |
| `GET /patients?q=` | coordinator (their PCNs), admin | 200, 422 |
| `GET /reports/bottlenecks?place=` | place lead (their place), admin | 200, 422 |
| `POST /patients/{id}/pathways/{prov}/{pathway_id}/{action}` | as the page | 200/201, 409, 422 |
| `POST /patients/{id}/contact-preference` | coordinator, admin | 200, 409, 422 |
| `POST /worklist/assign` | coordinator, admin | 200, 422 |
| `GET /inbox`, `POST /inbox/{id}/read`, `POST /inbox/read-all` | coordinator, GP, admin | 200 |
| `POST /letters/{id}/printed` | coordinator (their PCNs), admin | 200 |
| `POST /admin/notifications/{id}/resend` | admin | 200 |
| `GET /patients/{patient_id}` | coordinator, GP (their practice), admin | 200, 422 |
| `GET`, `PUT /inbox/settings` | coordinator, GP, admin | 200, 422 |
| `GET /letters` | coordinator (their PCNs), admin | 200 |
| `GET /admin/notifications`, `GET /admin/audit` | admin | 200, 422 |
| `/admin/users…` (add, read, change, disable, tokens, …) | admin | 200/201, 409, 422 |
| `GET /practices/{code}/referrals` | GP (that practice), coordinator (its PCN), admin | 200, 422 |

Everyone else gets 404 (a GP or a place lead posting a referral, a place lead asking for a
referral or a worklist, a coordinator or GP asking for a report).

Every 422 has FastAPI's shape, `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`,
and `loc` names the body field or query parameter at fault: the referral's fields use the
lower-case column names of the waiting-list extract (`["body", "nhs_number"]`), a whole-
record problem is `["body"]`.

Every view of patient-level data and every write is audited (`view-referral`,
`view-worklist`, `find-patient`, `submit-referral`, `denied-patient`), and so is each
report view (`view-report`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from guardian.web.api import (
    admin_users,
    answers,
    audit_log,
    commands,
    inbox,
    notices,
    patient_record,
    patients,
    practices,
    referrals,
    reports,
    worklists,
)
from guardian.web.rate_limit import rate_limit

# Every route counts against the caller's allowance (guardian/web/rate_limit.py) and
# documents the answers any route may give (answers.COMMON).
router = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Depends(rate_limit)],
                   responses=dict(answers.COMMON))
for group in (referrals, worklists, patients, patient_record, reports, commands, inbox,
              notices, admin_users, audit_log, practices):
    router.include_router(group.router)
