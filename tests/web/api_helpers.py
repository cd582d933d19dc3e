"""What the JSON API's tests share (tests/web/api/, and the web tests that post referrals
through the API): the practices of each scope, valid NHS numbers, a referral row in the
extract's shape, a bearer token per role, posting a referral, and the fields a 422 names.
"""

from __future__ import annotations

import datetime as dt
import json

from web_helpers import ACCOUNTS

from guardian import audit, users
from guardian.domain.identifiers import nhs_check_digit

HOME = "Y90001"  # U90001: the coordinator's and the GP's
NEIGHBOUR = "Y90009"  # U90002: the coordinator's, not the GP's
THURROCK = "Y90141"  # U90024 in Thurrock: the place lead's place, nobody else's


def nhs_numbers():
    for n in range(999300001, 999999999):
        check = nhs_check_digit(str(n))
        if check is not None:
            yield f"{n}{check}"


NUMBERS = list(zip(range(40), nhs_numbers(), strict=False))
NHS = [number for _, number in NUMBERS]


def today() -> dt.date:
    return dt.date.today()


def days_ago(n: int) -> str:
    return (today() - dt.timedelta(days=n)).isoformat()


def row(nhs: str, pathway_id: str, practice: str, provider: str = "RAJ", waited: int = 30,
        **extra: str) -> dict[str, str]:
    body = {
        "nhs_number": nhs, "person_birth_date": "1958-03-14",
        "patient_pathway_identifier": pathway_id,
        "organisation_identifier_code_of_provider": provider,
        "general_medical_practice_code": practice,
        "referral_request_received_date": days_ago(waited),
        "referral_to_treatment_period_start_date": days_ago(waited),
        "activity_treatment_function_code": "110", "priority_type_code": "1",
        "patient_given_name": "Ada", "patient_family_name": f"Tester{pathway_id}",
    }
    body.update(extra)
    return body


def bearer(engine, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.create_token(engine, ACCOUNTS[role][0])}"}


def post(client, headers, body, expect: int | None = None):
    # json.dumps escapes what is not ASCII, so even a lone surrogate can be sent
    r = client.post("/api/v1/referrals", content=json.dumps(body),
                    headers={**headers, "Content-Type": "application/json"})
    if expect is not None:
        assert r.status_code == expect, r.text
    return r

def entries(engine, action):
    return audit.entries(engine, action=action, limit=200)


def locs(response) -> list[list]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]

