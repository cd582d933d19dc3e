"""A pathway that left the provider's list keeps its clock (docs/rules.md §5).

Given a pathway on the list for 100 days, then missing from a full snapshot, when the days
go by: the RTT export still counts it as waiting, the worklist keeps it in the "left the
list" filter with its next deadline, the API shows its deadlines, and the sweep records its
18-week breach on day 127, which the worklist and the API then show as breached. Export,
API, worklist and sweep agree, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import io

from web_helpers import ACCOUNTS

from guardian import users
from guardian.bootstrap import import_extract
from guardian.projections import worklist as wl
from guardian.projections.rtt import write_rtt
from guardian.waits import check_waits

TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=130)  # day 127 (the RTT 18 breach day) was 3 days ago
HEADER = ("NHS_NUMBER,PERSON_BIRTH_DATE,PATIENT_PATHWAY_IDENTIFIER,"
          "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER,GENERAL_MEDICAL_PRACTICE_CODE,"
          "REFERRAL_REQUEST_RECEIVED_DATE,REFERRAL_TO_TREATMENT_PERIOD_START_DATE,"
          "ACTIVITY_TREATMENT_FUNCTION_CODE,PRIORITY_TYPE_CODE")
STAYS = f"9995260182,1958-03-14,LL-1,RAJ,Y90001,{START},{START},110,1"
LEAVES = f"9991590838,1961-07-01,LL-2,RAJ,Y90001,{START},{START},110,1"


def extract(tmp_path, name: str, *rows: str):
    path = tmp_path / name
    path.write_text("\n".join((HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def waiting_in_export(guardian, as_of: dt.date) -> int:
    out = io.StringIO()
    with guardian.engine.connect() as conn:
        write_rtt(conn, out, as_of)
    total = next(line for line in out.getvalue().splitlines() if ",C_999," in line)
    header = out.getvalue().splitlines()[0].split(",")
    return int(total.split(",")[header.index("Total")])


def left_list_rows(guardian, filters=("left-list",)) -> list[dict]:
    with guardian.engine.connect() as conn:
        return [dict(r) for r in wl.page(conn, wl.Scope(None), "U90001", TODAY, list(filters))]


def test_export_api_worklist_and_sweep_agree_on_a_pathway_that_left_the_list(
        client, tmp_path):
    guardian = client.app.state.guardian
    runner = client.app.state.runner
    import_extract(guardian, extract(tmp_path, "week1.csv", STAYS, LEAVES),
                   START + dt.timedelta(days=100))
    import_extract(guardian, extract(tmp_path, "week2.csv", STAYS),
                   START + dt.timedelta(days=107), full_snapshot=True)
    runner.run_once()

    # the export counts it as waiting: 2 pathways, both 130 days
    assert waiting_in_export(guardian, TODAY) == 2
    # the worklist keeps it under "left the list", with its deadlines running
    [row] = left_list_rows(guardian)
    assert row["pathway_id"] == "LL-2" and row["stage"] == "left-waiting-list"
    assert row["next_breach_on"] is not None
    breached_before = {r["pathway_id"] for r in left_list_rows(guardian, ["breached"])}
    assert breached_before == {"LL-1", "LL-2"}  # day 127 has passed for both

    # the sweep records the 18-week breach on day 127 for both, the one off the list too
    result = check_waits(guardian, TODAY)
    assert result.breaches_recorded >= 2
    patient = guardian.get_patient(guardian.patient_id("9991590838"))
    assert patient.pathway("RAJ", "LL-2").breaches[("rtt-18", "")] == \
        START + dt.timedelta(days=127)

    # the API shows its deadlines and the breach
    token = users.create_token(guardian.engine, ACCOUNTS["admin"][0])
    view = client.get("/api/v1/referrals/LL-2?provider=RAJ",
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert view["stage"] == "left-waiting-list"
    assert view["waited_days"] == 130
    standards = {d["standard"] for d in view["deadlines"]}
    assert {"rtt-18", "rtt-52"} <= standards, view["deadlines"]
    assert "rtt-18" in {b["standard"] for b in view["breaches"]}, view["breaches"]
