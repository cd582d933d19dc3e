"""Where Guardian writes, refused when malformed before anything is written
(docs/notifications.md "Contacts"): a practice's address given to `guardian contacts set`,
and a patient's e-mail address in a PTL extract (docs/formats.md), each refused with a
message that names the problem (and, in the extract, the column)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.cli import app as cli
from guardian.config import Settings
from guardian.notifications.schema import org_contacts
from guardian.orgs import load_orgs, read_org_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var")
    guardian = build_app(settings)
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    monkeypatch.setenv("GUARDIAN_DATABASE_URL", database_url)
    monkeypatch.setenv("GUARDIAN_VAR_DIR", str(tmp_path / "var"))
    yield guardian
    guardian.close()


def contacts(app) -> dict[str, str | None]:
    with app.engine.connect() as conn:
        return {r.code: r.email for r in conn.execute(select(org_contacts))}


def test_contacts_set_refuses_a_malformed_address_and_keeps_the_last_good_one(app):
    runner = CliRunner()
    refused = runner.invoke(cli, ["contacts", "set", "Z90001", "--email", "not-an-address"])
    assert refused.exit_code == 1  # docs/cli.md "Exit codes": refused input, nothing saved
    assert refused.stderr.strip() == "guardian: 'not-an-address' is not an e-mail address"
    assert "Traceback" not in refused.output and contacts(app) == {}

    saved = runner.invoke(cli, ["contacts", "set", "z90001", "--email", " gp@nhs.example "])
    assert saved.exit_code == 0 and "practice Z90001: saved" in saved.stdout
    for bad in ("gp@nhs", "two@at@nhs.example", "gp @nhs.example", "gp@nhs.example\nBcc: x@y.z"):
        again = runner.invoke(cli, ["contacts", "set", "Z90001", "--email", bad])
        assert again.exit_code == 1, bad
        assert "is not an e-mail address" in again.stderr
    assert contacts(app) == {"Z90001": "gp@nhs.example"}

    unknown = runner.invoke(cli, ["contacts", "set", "Q12345", "--email", "gp@nhs.example"])
    assert unknown.exit_code == 1
    assert "'Q12345' is neither a practice nor a hospital Guardian knows" in unknown.stderr
    assert contacts(app) == {"Z90001": "gp@nhs.example"}


RECORD = {
    "NHS_NUMBER": "9995260182", "PERSON_BIRTH_DATE": "1958-03-14",
    "PATIENT_PATHWAY_IDENTIFIER": "P1", "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER": "RAJ",
    "GENERAL_MEDICAL_PRACTICE_CODE": "Z90001", "REFERRAL_REQUEST_RECEIVED_DATE": "2026-01-05",
    "REFERRAL_TO_TREATMENT_PERIOD_START_DATE": "2026-01-05",
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE": "", "ACTIVITY_TREATMENT_FUNCTION_CODE": "330",
    "PRIORITY_TYPE_CODE": "2", "PATIENT_EMAIL": "",
}


@pytest.mark.one_backend
def test_a_malformed_patient_email_in_an_extract_is_refused_naming_the_column(app, tmp_path):
    good = {**RECORD, "PATIENT_EMAIL": "ada@example.invalid"}
    bad = {**RECORD, "NHS_NUMBER": "9995260190", "PATIENT_PATHWAY_IDENTIFIER": "P2",
           "PATIENT_EMAIL": "not-an-address"}
    path = tmp_path / "ptl.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(RECORD)
        out.writerow(good.values())
        out.writerow(bad.values())
    result = import_extract(app, path, AS_OF)
    assert (result.accepted, result.rejected) == (1, 1)
    with open(result.errors_file, newline="", encoding="utf-8") as f:
        [error] = list(csv.DictReader(f))
    assert (error["line"], error["column"]) == ("3", "PATIENT_EMAIL")
    assert error["reason"] == "e-mail 'not-an-address' is not an e-mail address"
    assert app.get_patient(app.patient_id("9995260182")).email == "ada@example.invalid"
    refused = app.patient_id("9995260190")
    assert app.known_patients({refused}) == set()  # the refused row wrote nothing
