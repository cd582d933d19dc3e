"""The worklist as CSV (`GET /worklist.csv`, docs/access.md "Exports"): the rows the view
shows, every page of it, in its order, with the worklist page's own query; scoped as the
page (another PCN answers 404), audited when it opens with the view and its row count;
cells a spreadsheet would run as formulas written as text; names beside codes; a query the
worklist would not take goes back to the worklist; 10,000 rows streamed 1,000 at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import urllib.parse

from sqlalchemy import insert, select
from web_helpers import referred_patient, sign_in

from guardian import audit
from guardian.domain.report import ReferralReport
from guardian.projections import worklist as wl
from guardian.web.routes import worklist_export
from guardian.web.routes.worklist_export import safe

MINE = ["U90001", "U90002"]


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # a BOM, so spreadsheets read UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def view(guardian, pcn=None, filters=(), sort=wl.SORTS[0], attrs=None) -> list[dict]:
    """Every row of the view, as the worklist pages it."""
    scope = wl.Scope(frozenset(MINE), "sam@guardian.test")
    with guardian.engine.connect() as conn:
        return wl.page(conn, scope, pcn, guardian.today(), list(filters), sort, None, 100_000,
                       attrs)


def test_the_export_is_the_views_rows_in_its_order_with_names_and_codes(client, demo):
    sign_in(client, "coordinator")
    for query, pcn, filters, sort, attrs in (
        ("pcn=U90001", "U90001", (), wl.SORTS[0], None),
        ("pcn=U90001&sort=days-waiting&filter=at-risk", "U90001", ("at-risk",),
         "days-waiting", None),
        ("filter=breached&filter=unassigned&sort=next-deadline", None,
         ("breached", "unassigned"), "next-deadline", None),
        ("pcn=U90001&priority=2&sort=days-waiting", "U90001", (), "days-waiting",
         {"priority": 2}),
    ):
        expected = view(demo, pcn, filters, sort, attrs)
        r = client.get(f"/worklist.csv?{query}")
        assert r.status_code == 200, query
        assert r.headers["content-type"].startswith("text/csv")
        rows = read_csv(r.text)
        assert [(x["Hospital code"], x["Pathway id"]) for x in rows] == [
            (e["provider"], e["pathway_id"]) for e in expected], query
        assert expected, f"the demo has no rows for {query}: the test shows nothing"
    first = rows[0]
    assert first["PCN"] != first["PCN code"] == "U90001"  # the PCN by name, its code beside
    assert first["GP practice"] != first["Practice code"]
    assert first["Hospital"] != first["Hospital code"]
    assert first["Specialty"] and not first["Specialty"].isdigit()
    assert first["Priority"] == "Urgent"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    filename = urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1])
    assert filename == f"Worklist {first['PCN']} {demo.today().isoformat()}.csv"


def test_another_pcn_is_not_found_and_a_bad_query_goes_back_to_the_worklist(client, demo):
    sign_in(client, "coordinator")
    r = client.get("/worklist.csv?pcn=U90003", follow_redirects=False)
    assert r.status_code == 404
    denied = audit.entries(demo.engine, action="denied-worklist")
    assert denied and "U90003" in denied[0].detail
    for bad in ("filter=nonsense", "sort=sideways", "priority=9", "stage=limbo&pcn=U90001"):
        r = client.get(f"/worklist.csv?{bad}", follow_redirects=False)
        assert r.status_code == 303, bad
        assert r.headers["location"] == f"/worklist?{bad}"
        page = client.get(r.headers["location"])  # the worklist says what was wrong
        assert page.status_code < 500 and "text/html" in page.headers["content-type"]
    sign_in(client, "gp")
    assert client.get("/worklist.csv", follow_redirects=False).status_code in (403, 404)


def test_the_export_is_audited_with_the_view_and_its_row_count(client, demo):
    sign_in(client, "coordinator")
    r = client.get("/worklist.csv?pcn=U90001&filter=breached")
    rows = read_csv(r.text)
    [entry] = audit.entries(demo.engine, action="export-worklist")
    assert entry.user_email == "sam@guardian.test"
    assert "Breached" in entry.detail and "U90001" in entry.detail
    assert entry.detail.endswith(f"; {len(rows)} rows")


def test_cells_that_would_run_as_formulas_are_text(client):
    assert [safe(v) for v in ("=1+1", "+44 1234", "-2", "@SUM(A1)", "\tx", "\rx", "ok",
                              None, dt.date(2026, 1, 2), 7)] == [
        "'=1+1", "'+44 1234", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", "", "2026-01-02", "7"]
    guardian = client.app.state.guardian
    today = guardian.today()
    report = ReferralReport(
        provider="RAJ", pathway_id="=HYPERLINK(1)", nhs_number="9995260182",
        birth_date=dt.date(1960, 5, 1), practice_code="Y90001", treatment_function="110",
        priority=2, waiting_list_type="ORTT", received_on=today, clock_start=today,
        as_of=today, given_name="@Ada", family_name="=cmd|' /C calc'!A0")
    guardian.apply_reports([report])
    client.app.state.runner.run_once()
    sign_in(client, "coordinator")
    [row] = read_csv(client.get("/worklist.csv?pcn=U90001").text)
    assert row["Family name"] == "'=cmd|' /C calc'!A0"
    assert row["Given name"] == "'@Ada" and row["Pathway id"] == "'=HYPERLINK(1)"


def test_ten_thousand_rows_stream_a_thousand_at_a_time(client, monkeypatch):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian)
    client.app.state.runner.run_once()
    with guardian.engine.connect() as conn:
        [template] = [dict(r._mapping) for r in conn.execute(select(wl.worklist))]
    start = template["wait_from"]
    copies = [{**template, "pathway_id": f"BULK-{n:05d}", "patient_id": f"{n:032x}",
               "deadline_sort": start + dt.timedelta(days=n % 400),
               "wait_from": start - dt.timedelta(days=n % 300)} for n in range(9_999)]
    with guardian.engine.begin() as conn:
        conn.execute(insert(wl.worklist), copies)
    reads: list[int] = []
    real_page = wl.page

    def counted(*args, **kwargs):
        rows = real_page(*args, **kwargs)
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(worklist_export.wl, "page", counted)
    sign_in(client, "coordinator")
    for sort in wl.SORTS:
        reads.clear()
        with client.stream("GET", f"/worklist.csv?pcn=U90001&sort={sort}") as r:
            assert r.status_code == 200
            chunks = r.iter_bytes()  # gzip decoded, as a browser reads it
            next(chunks)  # the header row is out before the list is read
            assert len(reads) <= 1
            body = b"".join(chunks)
        # ten pages of a thousand, then an empty one: never more than a page held
        assert reads == [1000] * 10 + [0], sort
        rows = list(csv.reader(io.StringIO(body.decode())))
        expected = view(guardian, "U90001", (), sort)
        assert len(rows) == len(expected) == 10_000
        assert [row[7] for row in rows] == [e["pathway_id"] for e in expected], sort
    assert pid and pathway
