"""`POST /api/v1/referrals` while an extract naming the same patients is being imported
(docs/deployment.md "Imports one at a time"): neither fails with a raw error. A referral
may wait for the import's batch in flight, and a write that lost a race is applied again
from the store; the import does the same."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading

import pytest
from api_helpers import bearer, nhs_numbers

from guardian.bootstrap import build_app, import_extract

HEADER = (
    "NHS_NUMBER,PERSON_BIRTH_DATE,PATIENT_PATHWAY_IDENTIFIER,"
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER,GENERAL_MEDICAL_PRACTICE_CODE,"
    "REFERRAL_REQUEST_RECEIVED_DATE,REFERRAL_TO_TREATMENT_PERIOD_START_DATE,"
    "ACTIVITY_TREATMENT_FUNCTION_CODE,PRIORITY_TYPE_CODE,OUTPATIENT_FUTURE_APPOINTMENT_DATE"
)
ROWS = 1200  # enough batches that the import is still running while the API posts
SHARED = 40  # the API keeps changing the first 40 pathways of the file


@pytest.mark.parametrize("full_snapshot", [False, True], ids=["update", "full-snapshot"])
def test_referrals_posted_during_an_import_of_the_same_patients(
        client, settings, tmp_path, full_snapshot):
    today = client.app.state.guardian.today()
    nhs = list(itertools.islice(nhs_numbers(), ROWS))
    extract = tmp_path / "ptl.csv"
    extract.write_text("\n".join([HEADER, *(
        f"{n},1960-01-01,D{k},RAJ,Y90001,2025-01-01,2025-01-01,110,1,"
        for k, n in enumerate(nhs))]) + "\n")
    importer = build_app(settings)
    import_extract(importer, extract, today)
    # The extract imported while the API posts: every row changed (or, as a full snapshot,
    # half of them, the other half then leaving the list).
    kept = nhs[: ROWS // 2] if full_snapshot else nhs
    extract.write_text("\n".join([HEADER, *(
        f"{n},1960-01-01,D{k},RAJ,Y90001,2025-01-01,2025-01-01,110,2,"
        for k, n in enumerate(kept))]) + "\n")
    headers = {**bearer(client.app.state.guardian.engine, "admin"),
               "Content-Type": "application/json"}
    outcome: dict = {}

    def run_import() -> None:
        try:
            outcome["result"] = import_extract(importer, extract, today,
                                               full_snapshot=full_snapshot)
        except BaseException as e:  # reported below
            outcome["error"] = e

    thread = threading.Thread(target=run_import)
    thread.start()
    answers: list[tuple[int, str]] = []
    k = 0
    while thread.is_alive() or k < SHARED:
        n = k % SHARED
        day = today + dt.timedelta(days=10 + k % 20)
        body = {"nhs_number": nhs[n], "person_birth_date": "1960-01-01",
                "patient_pathway_identifier": f"D{n}",
                "organisation_identifier_code_of_provider": "RAJ",
                "general_medical_practice_code": "Y90001",
                "referral_request_received_date": "2025-01-01",
                "referral_to_treatment_period_start_date": "2025-01-01",
                "activity_treatment_function_code": "110", "priority_type_code": "1",
                "outpatient_future_appointment_date": day.isoformat()}
        r = client.post("/api/v1/referrals", content=json.dumps(body), headers=headers)
        answers.append((r.status_code, r.text[:200]))
        k += 1
    thread.join(120)
    importer.close()
    assert "error" not in outcome, repr(outcome.get("error"))
    result = outcome["result"]
    assert result.rejected == 0
    if full_snapshot:
        assert result.left_waiting_list == ROWS - ROWS // 2
    refused = [a for a in answers if a[0] not in (200, 201)]
    assert not refused, f"{len(refused)} of {len(answers)}: {refused[:3]}"
