"""The JSON API under /api/v1 (docs/api.md): the same use cases, read models and
scopes as the pages, for scripts and other systems. This package puts its route groups
together in one router: referrals (`referrals`, their shapes in `referral_models`), PCN
worklists (`worklists`), the patient search (`patients`) and place reports (`reports`);
what every route answers besides its own body is in `answers`. The schema and Swagger UI
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

from fastapi import APIRouter

from guardian.web.api import patients, referrals, reports, worklists

router = APIRouter(prefix="/api/v1", tags=["api"])
for group in (referrals, worklists, patients, reports):
    router.include_router(group.router)
