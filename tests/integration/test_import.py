"""PTL import on real SQLite and PostgreSQL: docs/formats.md's rules, bad input, restarts."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.ingest.ptl import MalformedExtract, importer, pipeline
from guardian.orgs import load_orgs, read_org_file
from guardian.store import pathway_index

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 3, 31)
HEADER = (
    "NHS_NUMBER,PERSON_BIRTH_DATE,PATIENT_PATHWAY_IDENTIFIER,"
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER,GENERAL_MEDICAL_PRACTICE_CODE,"
    "REFERRAL_REQUEST_RECEIVED_DATE,REFERRAL_TO_TREATMENT_PERIOD_START_DATE,"
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE,ACTIVITY_TREATMENT_FUNCTION_CODE,PRIORITY_TYPE_CODE"
)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    yield guardian
    guardian.close()


# One referral as a PTL record (CSV column → text).
RECORD = {
    "NHS_NUMBER": "9995260182", "PERSON_BIRTH_DATE": "1958-03-14",
    "PATIENT_PATHWAY_IDENTIFIER": "API-1", "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER": "RAJ",
    "GENERAL_MEDICAL_PRACTICE_CODE": "Z90001", "REFERRAL_REQUEST_RECEIVED_DATE": "2026-01-05",
    "REFERRAL_TO_TREATMENT_PERIOD_START_DATE": "2026-01-05",
    "ACTIVITY_TREATMENT_FUNCTION_CODE": "330", "PRIORITY_TYPE_CODE": "2",
}


def valid_nhs_numbers(count: int) -> list[str]:
    """The first `count` valid NHS numbers of the 999 test range."""
    from guardian.domain.identifiers import nhs_check_digit

    numbers = []
    i = 0
    while len(numbers) < count:
        i += 1
        check = nhs_check_digit(f"999{i:06d}")
        if check is not None:
            numbers.append(f"999{i:06d}{check}")
    return numbers


def event_count(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM guardian_events")).scalar_one()


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def example(tmp_path: Path) -> Path:
    path = tmp_path / "ptl-example.csv"
    shutil.copy(EXAMPLES / "ptl-example.csv", path)
    return path


def errors_of(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_example_imports_good_rows_and_names_each_bad_one(app, tmp_path):
    result = import_extract(app, example(tmp_path), AS_OF)
    assert (result.rows, result.accepted, result.unchanged, result.rejected) == (10, 7, 0, 3)
    errors = errors_of(result.errors_file)
    assert {e["line"] for e in errors} == {"9", "10", "11"}
    by_line = {e["line"]: e for e in errors}
    assert by_line["9"]["column"] == "NHS_NUMBER" and "Modulus 11" in by_line["9"]["reason"]
    assert "Z99999" in by_line["10"]["reason"]
    assert "2025-02-30" in by_line["11"]["reason"]
    assert result.errors_file.endswith("ptl-example.csv.errors.csv")


def test_reimporting_an_unchanged_file_writes_no_events(app, tmp_path):
    path = example(tmp_path)
    import_extract(app, path, AS_OF)
    before = event_count(app)
    again = import_extract(app, path, AS_OF)
    assert (again.accepted, again.unchanged, again.rejected) == (0, 7, 3)
    assert event_count(app) == before


def test_a_changed_row_writes_only_its_changed_facts(app, tmp_path):
    path = write(tmp_path, "a.csv", HEADER,
                 "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1")
    import_extract(app, path, AS_OF)
    before = event_count(app)
    path = write(tmp_path, "b.csv", HEADER,
                 "9995260182,1958-03-14,P1,RAJ,Z90002,2025-11-03,2025-11-03,2026-04-02,110,1")
    result = import_extract(app, path, dt.date(2026, 4, 7))
    assert (result.accepted, result.unchanged) == (1, 0)
    # PracticeChanged, ClockStopped, and the 18-week breach of day 127 (2026-03-10) that
    # the stop on day 150 leaves behind (docs/rules.md §3)
    assert event_count(app) == before + 3
    patient = app.get_patient(app.patient_id("9995260182"))
    assert patient.pathway("RAJ", "P1").practice_code == "Z90002"
    assert patient.pathway("RAJ", "P1").clock_end == dt.date(2026, 4, 2)


@pytest.mark.parametrize(
    "content, message",
    [
        (gzip.compress(b"NHS_NUMBER\n1\n"), "gzip"),
        (b"\x00\x01\x02binary", "binary"),
        (b"", "no header"),
        (b"NHS_NUMBER,PERSON_BIRTH_DATE\n9995260182,1958-03-14\n", "missing"),
        (HEADER.encode() + b"\n\xff\xfe,bad\n", "not UTF-8"),
    ],
    ids=["gzip", "binary", "empty", "missing-columns", "not-utf8"],
)
def test_a_malformed_file_is_refused_whole_before_anything_is_written(
    app, tmp_path, content, message
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(MalformedExtract, match=message):
        import_extract(app, path, AS_OF)
    assert event_count(app) == 0


def test_a_header_and_no_rows_is_a_valid_empty_extract(app, tmp_path):
    result = import_extract(app, write(tmp_path, "empty.csv", HEADER), AS_OF,
                            full_snapshot=True)
    assert (result.rows, result.accepted, result.rejected, result.errors_file) == (
        0, 0, 0, None)
    assert event_count(app) == 0


def test_a_missing_file_is_named(app, tmp_path):
    with pytest.raises(MalformedExtract, match="no such file"):
        import_extract(app, tmp_path / "nope.csv", AS_OF)


def test_an_extract_older_than_the_last_one_is_refused(app, tmp_path):
    path = example(tmp_path)
    import_extract(app, path, AS_OF)
    before = event_count(app)
    with pytest.raises(MalformedExtract, match="older than the last one applied for provider RAJ"):
        import_extract(app, path, AS_OF - dt.timedelta(days=1))
    assert event_count(app) == before


def test_bad_rows_are_rejected_and_good_rows_still_imported(app, tmp_path):
    path = write(
        tmp_path, "rows.csv", HEADER,
        "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1",  # 2 good
        "9991590838,1990-07-01,P2,RAJ,Z90001,2026-04-02,2026-04-02,,330,2",  # 3 after as-of
        "9990166137,1947-12-25,P3,RAJ,Z90002,2026-03-02,2026-03-02,2026-03-01,101,3",  # 4 end<start
        "9991860916,1972-05-30,P4,RAJ,Z90003,2024-09-16,2024-09-16,,120,7",  # 5 bad priority
        "9990308241,2001-01-31,P5,RAJ,Z90002,2024-02-29,2024-02-29,,110",  # 6 ragged
        "9996281949,1966-08-08,P6,RAJ,Z90001,2026-03-31,2026-03-31,,301,2",  # 7 dup
        "9995181909,1950-02-02,P6,RAJ,Z90001,2025-12-01,2025-12-01,,130,1",  # 8 dup
        "9993909963,1985-10-10,P7,RAJ,Z90003,2025-06-02,2025-06-02,,1100,1",  # 9 bad code
    )
    result = import_extract(app, path, AS_OF)
    assert (result.rows, result.accepted, result.rejected) == (8, 1, 7)
    errors = {(e["line"], e["column"]): e["reason"] for e in errors_of(result.errors_file)}
    assert "after the extract's as-of date" in errors[("3", "REFERRAL_REQUEST_RECEIVED_DATE")]
    assert "before the clock start" in errors[("4", "REFERRAL_TO_TREATMENT_PERIOD_END_DATE")]
    assert "priority" in errors[("5", "PRIORITY_TYPE_CODE")]
    assert "fields" in errors[("6", "")]
    assert "more than once" in errors[("7", "PATIENT_PATHWAY_IDENTIFIER")]
    assert "also line 7" in errors[("8", "PATIENT_PATHWAY_IDENTIFIER")]
    assert "treatment function" in errors[("9", "ACTIVITY_TREATMENT_FUNCTION_CODE")]


def test_a_known_pathway_with_a_different_nhs_number_is_rejected(app, tmp_path):
    import_extract(app, write(tmp_path, "a.csv", HEADER,
                              "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1"),
                   AS_OF)
    result = import_extract(
        app,
        write(tmp_path, "b.csv", HEADER,
              "9991590838,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1"),
        AS_OF,
    )
    assert (result.accepted, result.rejected) == (0, 1)
    assert "different NHS number" in errors_of(result.errors_file)[0]["reason"]


def example_row(pathway_id: str) -> dict[str, str]:
    """One row of the example extract, by pathway id."""
    with open(EXAMPLES / "ptl-example.csv", newline="", encoding="utf-8") as f:
        return next(r for r in csv.DictReader(f) if r["PATIENT_PATHWAY_IDENTIFIER"] == pathway_id)


def test_a_full_snapshot_marks_missing_open_pathways_as_left(app, tmp_path):
    import_extract(app, example(tmp_path), AS_OF)
    first = example_row("PPI-0001")
    # the same pathway, in HEADER's columns only (no UBRN, status or list type)
    path = write(tmp_path, "snap.csv", HEADER,
                 ",".join(first.get(column, "") for column in HEADER.split(",")))
    result = import_extract(app, path, dt.date(2026, 4, 7), full_snapshot=True)
    # 7 imported; PPI-0005 had stopped (not open); PPI-0001 is listed: 5 left the list
    assert result.left_waiting_list == 5
    second = example_row("PPI-0002")["NHS_NUMBER"]
    patient = app.get_patient(app.patient_id(second))
    assert patient.pathway("RAJ", "PPI-0002").left_list_on == dt.date(2026, 4, 7)
    assert app.get_patient(app.patient_id(first["NHS_NUMBER"])).pathway(
        "RAJ", "PPI-0001").left_list_on is None
    again = import_extract(app, path, dt.date(2026, 4, 7), full_snapshot=True)
    assert again.left_waiting_list == 0
    # listed again, with facts unchanged: the 5 return to the list (not "unchanged");
    # PPI-0001 gets its other facts back (the snapshot row had fewer columns);
    # PPI-0005 is unchanged
    back = import_extract(app, example(tmp_path), dt.date(2026, 4, 14))
    assert (back.accepted, back.unchanged) == (6, 1)
    assert patient.pathway("RAJ", "PPI-0002").left_list_on is not None  # the old copy
    patient = app.get_patient(app.patient_id(second))
    assert patient.pathway("RAJ", "PPI-0002").left_list_on is None


def test_a_crash_mid_import_loses_no_accepted_row_and_a_rerun_finishes(
    app, tmp_path, monkeypatch
):
    lines = [HEADER] + [
        f"{nhs},1960-01-01,C{n},RAJ,Z90001,2025-01-01,2025-01-01,,110,1"
        for n, nhs in enumerate(valid_nhs_numbers(250), start=1)
    ]
    path = write(tmp_path, "big.csv", *lines)
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 50)
    real_write = app.write
    calls = {"n": 0}

    def failing_write(staged):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real_write(staged)

    monkeypatch.setattr(app, "write", failing_write)
    with pytest.raises(OSError):
        import_extract(app, path, AS_OF)
    committed = event_count(app)
    assert committed == 2 * 50 * 2  # two batches of 50 patients, 2 events each
    monkeypatch.setattr(app, "write", real_write)
    result = import_extract(app, path, AS_OF)
    assert (result.accepted, result.unchanged) == (150, 100)
    assert event_count(app) == 250 * 2


def test_the_pathway_index_rebuilds_from_the_events_alone(app, tmp_path):
    import_extract(app, example(tmp_path), AS_OF)
    with app.engine.connect() as conn:
        before = sorted(map(tuple, conn.execute(select(pathway_index))))
    assert app.rebuild_pathway_index() == 7
    with app.engine.connect() as conn:
        after = sorted(map(tuple, conn.execute(select(pathway_index))))
        assert conn.execute(select(func.count()).select_from(pathway_index)).scalar_one() == 7
    assert after == before


def test_the_api_use_case_shares_the_import(app):
    from guardian.ingest.ptl import parse_record

    record = dict(RECORD)
    report, problems = parse_record(record.get, AS_OF, {"Z90001"})
    assert problems == []
    assert [o.result for o in app.apply_reports([report])] == ["created"]
    assert [o.result for o in app.apply_reports([report])] == ["unchanged"]
    bad, problems = parse_record({**record, "PRIORITY_TYPE_CODE": "9"}.get, AS_OF, {"Z90001"})
    assert bad is None and problems[0][0] == "PRIORITY_TYPE_CODE"


def test_two_worker_processes_import_what_one_does(app, tmp_path, database_url):
    """Partitioned by patient: same events, same counts, errors merged in line order."""
    lines = [HEADER]
    for n, nhs in enumerate(valid_nhs_numbers(300), start=1):
        # every third patient has a second pathway; every 50th row is bad
        lines.append(f"{nhs},1960-01-01,W{n},RAJ,Z90001,2025-01-01,2025-01-01,,110,1")
        if n % 3 == 0:
            lines.append(f"{nhs},1960-01-01,W{n}b,RAJ,Z90002,2025-02-01,2025-02-01,,330,2")
        if n % 50 == 0:
            lines.append(f"{nhs},1960-01-01,BAD{n},RAJ,Z99999,2025-02-01,2025-02-01,,330,2")
    path = write(tmp_path, "two.csv", *lines)
    result = import_extract(app, path, AS_OF, workers=2)
    assert (result.rows, result.accepted, result.rejected) == (406, 400, 6)
    assert len(result.worker_peak_rss_mb) == 2
    lines_in_errors = [int(e["line"]) for e in errors_of(result.errors_file)]
    assert lines_in_errors == sorted(lines_in_errors) and len(lines_in_errors) == 6
    assert event_count(app) == 300 * 2 + 100
    again = import_extract(app, path, AS_OF, workers=2)
    assert (again.accepted, again.unchanged, again.rejected) == (0, 400, 6)


def test_a_pathway_created_after_the_first_pass_is_updated_not_duplicated(
    app, tmp_path, monkeypatch
):
    """The first pass saw no such pathway (another writer created it since): still one."""
    row = "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1"
    import_extract(app, write(tmp_path, "a.csv", HEADER, row), AS_OF)
    before = event_count(app)
    real_scan = importer.scan

    def stale_scan(*args, **kwargs):
        info = real_scan(*args, **kwargs)
        info.known.clear()  # as if the pathway did not exist when the file was read
        return info

    monkeypatch.setattr(importer, "scan", stale_scan)
    changed = row.replace("Z90001", "Z90002")
    result = import_extract(app, write(tmp_path, "b.csv", HEADER, changed), AS_OF)
    assert result.accepted == 1
    assert event_count(app) == before + 1  # PracticeChanged only
    patient = app.get_patient(app.patient_id("9995260182"))
    assert list(patient.pathways) == [("RAJ", "P1")]


def test_post_referrals_use_case_shares_the_importers_rules(app):
    from guardian.ingest.referral_api import submit_referral

    record = {k.lower(): v for k, v in RECORD.items()} | {
        "nhs_number": "999 526 0182", "patient_pathway_identifier": "API-7",
        "something_else": "ignored",
    }
    scope = frozenset({"Z90001", "Z90002"})
    first = submit_referral(app, record, scope, AS_OF)
    assert (first.result, first.status_code) == ("created", 201)
    assert submit_referral(app, record, scope, AS_OF).status_code == 200  # unchanged
    updated = submit_referral(app, {**record, "priority_type_code": "3"}, scope, AS_OF)
    assert (updated.result, updated.status_code) == ("updated", 200)

    outside = submit_referral(
        app, {**record, "general_medical_practice_code": "Z90003"}, scope, AS_OF
    )
    assert outside.status_code == 422
    assert "outside" in outside.errors["general_medical_practice_code"]
    unknown = submit_referral(
        app, {**record, "general_medical_practice_code": "Z99999"}, scope, AS_OF
    )
    assert "organisation reference" in unknown.errors["general_medical_practice_code"]
    bad = submit_referral(
        app, {**record, "nhs_number": "9995260183", "priority_type_code": 2}, scope, AS_OF
    )
    assert bad.status_code == 422 and bad.errors == {
        "priority_type_code": "priority_type_code must be a string"
    }
    bad = submit_referral(app, {**record, "nhs_number": "9995260183"}, scope, AS_OF)
    assert "Modulus 11" in bad.errors["nhs_number"]
    missing = submit_referral(app, {"nhs_number": "9995260182"}, scope, AS_OF)
    assert "person_birth_date" in missing.errors and missing.status_code == 422


def test_a_control_character_in_a_name_rejects_the_row(app, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_text(
        HEADER + ",PATIENT_GIVEN_NAME\n"
        "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1,Ann\x1be\n"
        "9991590838,1990-07-01,P2,RAJ,Z90001,2025-11-02,2025-11-02,,330,2,Bob\n",
        encoding="utf-8",
    )
    result = import_extract(app, path, AS_OF)
    assert (result.accepted, result.rejected) == (1, 1)
    [error] = errors_of(result.errors_file)
    assert error["column"] == "PATIENT_GIVEN_NAME" and "control character" in error["reason"]


@pytest.mark.parametrize("header, named", [
    (HEADER + ",NHS_NUMBER", "NHS_NUMBER"),
    (HEADER + ",nhs_number ", "NHS_NUMBER"),  # names are matched without regard to case
    (HEADER + ",PATIENT_GIVEN_NAME,Patient_Given_Name", "PATIENT_GIVEN_NAME"),
    (HEADER + ",NOTES,notes", "NOTES"),  # a column Guardian ignores, named twice
])
def test_a_column_named_twice_refuses_the_file_whole(app, tmp_path, header, named):
    width = header.count(",") + 1
    row = "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1"
    path = write(tmp_path, "twice.csv", header, row + "," * (width - 10))
    with pytest.raises(MalformedExtract, match=f"more than once.*{named}"):
        import_extract(app, path, AS_OF)
    assert event_count(app) == 0


def test_two_empty_column_names_are_not_a_column_named_twice(app, tmp_path):
    row = "9995260182,1958-03-14,P1,RAJ,Z90001,2025-11-03,2025-11-03,,110,1,,"
    result = import_extract(app, write(tmp_path, "trailing.csv", HEADER + ",,", row), AS_OF)
    assert (result.accepted, result.rejected) == (1, 0)


@pytest.mark.parametrize("where", ["directory", "missing-folder", "under-a-file"])
def test_an_errors_path_that_cannot_be_written_refuses_the_import_before_it_starts(
        app, tmp_path, where):
    (tmp_path / "a-file").write_text("x")
    errors = {"directory": tmp_path, "missing-folder": tmp_path / "nope" / "e.csv",
              "under-a-file": tmp_path / "a-file" / "e.csv"}[where]
    with pytest.raises(MalformedExtract, match="errors file"):
        import_extract(app, example(tmp_path), AS_OF, errors_path=errors)
    assert event_count(app) == 0
    assert not list(tmp_path.glob("**/*.tmp"))


@pytest.mark.parametrize("column, value", [
    ("PATIENT_PATHWAY_IDENTIFIER", "P\x851"),  # a C1 control (NEL) inside a value
    ("NHS_NUMBER", "999526\x010182"),  # (a NUL this early: a binary file, refused)
    ("PATIENT_FAMILY_NAME", "Smith\tJones"),  # no tab in a one-line value
    ("PATIENT_FAMILY_NAME", "S" * 101),
    ("PATIENT_EMAIL", "a@b." + "c" * 251),
    ("LOCAL_PATIENT_IDENTIFIER", "L" * 31),
])
def test_every_field_goes_through_the_one_text_rule(app, tmp_path, column, value):
    fields = {**RECORD, "PATIENT_FAMILY_NAME": "", "PATIENT_EMAIL": "",
              "LOCAL_PATIENT_IDENTIFIER": "", column: value}
    path = tmp_path / "fields.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(fields)
        out.writerow(fields.values())
    result = import_extract(app, path, AS_OF)
    assert (result.accepted, result.rejected) == (0, 1)
    [error] = errors_of(result.errors_file)
    assert error["column"] == column
    assert "control character" in error["reason"] or "at most" in error["reason"]
    assert event_count(app) == 0


def test_a_nul_after_the_start_of_the_file_rejects_its_row(app, tmp_path):
    numbers = valid_nhs_numbers(60)
    lines = [f"{n},1958-03-14,P{i},RAJ,Z90001,2025-11-03,2025-11-03,,110,1"
             for i, n in enumerate(numbers)]
    lines[-1] = lines[-1].replace(f"P{len(numbers) - 1}", "P\x00X")  # past the first 4 KB
    path = write(tmp_path, "late-nul.csv", HEADER, *lines)
    assert path.read_bytes().index(b"\x00") > 4096
    result = import_extract(app, path, AS_OF)
    assert (result.accepted, result.rejected) == (59, 1)
    [error] = errors_of(result.errors_file)
    assert error["column"] == "PATIENT_PATHWAY_IDENTIFIER" and "U+0000" in error["reason"]
