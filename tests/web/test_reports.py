"""Place-lead reports (/reports and its CSV downloads): who may see them, full page and htmx
fragments, the small-number rule on everything shown or downloaded, no patient-level data,
charts, past and bad as-of dates, audit.

Most tests share one SQLite store with the demo loaded once (module scope); the tests that
load their own demo run on SQLite and PostgreSQL (`database_url`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_helpers import ACCOUNTS, PASSWORD, sign_in

from guardian import audit, users
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.projections import bottlenecks as bn
from guardian.projections import rtt
from guardian.projections.registry import runner_for
from guardian.projections.suppression import suppress_count
from guardian.waits import check_waits
from guardian.web import caches, reports
from guardian.web.app import create_app

# A past date (the demo's histories end on it); today's date if the clock is behind.
AS_OF = min(dt.date(2026, 3, 31), dt.date.today() - dt.timedelta(days=2))
PLACE = ACCOUNTS["place-lead"][1][0]  # Thurrock
OTHER_PLACE = "Mid Essex"
SLUGS = sorted(reports.TABLES)
SECTION_TARGETS = ("stages-results", "queues-results", "trend-results")


# ------------------------------------------------------------------------------ fixtures


def _prepare(settings: Settings, patients: int, seed: int) -> None:
    """Users of every role, the demo cohort, the wait-time sweep (breaches), read models."""
    guardian = build_app(settings)
    try:
        init_database(guardian)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(users.passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                                  parallelism=1))
            load_demo(guardian, patients=patients, seed=seed, as_of=AS_OF)
            for role, (email, orgs) in ACCOUNTS.items():
                if users.find_user(guardian.engine, email) is None:
                    users.add_user(guardian.engine, email, role, orgs, PASSWORD)
        check_waits(guardian, AS_OF)
        runner_for(guardian).run_once()
    finally:
        guardian.close()


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory) -> Settings:
    """One SQLite store with 600 demo patients for the whole module."""
    where = tmp_path_factory.mktemp("reports")
    settings = Settings(database_url=f"sqlite:///{where / 'guardian.sqlite'}",
                        var_dir=where / "var", secret_key="test-secret-key")
    _prepare(settings, patients=600, seed=21)
    return settings


@pytest.fixture
def demo(demo_settings):
    with TestClient(create_app(demo_settings, follow_events=False)) as c:
        yield c


def signed_in(client: TestClient, role: str) -> TestClient:
    r = sign_in(client, role)
    assert r.status_code == 303, r.text
    return client


def report_url(**params) -> str:
    params.setdefault("as_of", AS_OF.isoformat())
    return "/reports?" + "&".join(f"{k}={v}" for k, v in params.items())


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    text = response.content.decode("utf-8")
    if response.url.path != "/reports/rtt.csv":  # the export keeps the CLI's bytes
        assert text.startswith("\ufeff"), "a byte-order mark for spreadsheet programs"
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows and rows[0], "a header row"
    return rows


def secret_values(engine) -> dict[str, set[str]]:
    """Patient-level values in the store that must never reach a place lead."""
    with engine.connect() as conn:
        worklist = conn.execute(text(
            "SELECT nhs_number, pathway_id, patient_id FROM worklist")).all()
        pathways = conn.execute(text("SELECT pathway_id FROM pathway_index")).scalars().all()
    return {
        "nhs_number": {r[0] for r in worklist},
        "pathway_id": {r[1] for r in worklist} | set(pathways),
        "patient_id": {r[2] for r in worklist},
    }


def assert_no_patient_data(body: str, secrets: dict[str, set[str]]) -> None:
    assert secrets["nhs_number"] and secrets["pathway_id"]
    for kind, values in secrets.items():
        leaked = [v for v in values if v and v in body]
        assert not leaked, f"{kind} in a report: {leaked[:3]}"
    # Nor anything shaped like one: a 10-digit run or a 32-character hex id.
    assert not re.search(r"(?<!\d)\d{10}(?!\d)", body)
    assert not re.search(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", body)


class TableCells(HTMLParser):
    """The text of every report table's cells, by the table's slug (screen-reader-only text
    left out, as the CSV has only what is seen)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._hidden: list[bool] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and (a.get("id") or "").endswith("-table"):
            self._rows = self.tables.setdefault(a["id"].removesuffix("-table"), [])
        elif self._rows is None:
            return
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("th", "td"):
            self._cell = []
        elif tag == "span":
            self._hidden.append("nhsuk-u-visually-hidden" in (a.get("class") or ""))

    def handle_endtag(self, tag):
        if self._rows is None:
            return
        if tag == "table":
            self._rows = None
        elif tag in ("th", "td") and self._cell is not None:
            value = "".join(self._cell).strip()
            if re.fullmatch(r"\d{1,3}(,\d{3})+", value):
                value = value.replace(",", "")
            self._rows[-1].append("" if value == "–" else value)
            self._cell = None
        elif tag == "span" and self._hidden:
            self._hidden.pop()

    def handle_data(self, data):
        if self._cell is not None and not any(self._hidden):
            self._cell.append(data)


def page_tables(html: str) -> dict[str, list[list[str]]]:
    parser = TableCells()
    parser.feed(html)
    return parser.tables


def column_kinds(settings_or_engine, slug: str, **params) -> dict[str, str]:
    """Header → kind ("count", "statistic", "number", "label") of one table."""
    p = reports.Params(place=PLACE, as_of=AS_OF, **params)
    engine = settings_or_engine
    with engine.connect() as conn:
        t = reports.build(conn, p, (slug,))[slug]
    return {c.header: c.kind for c in t.columns}


def check_suppressed(rows: list[list[str]], kinds: dict[str, str]) -> int:
    """Every count is 0, * or a multiple of 5; every statistic * or a number; returns how
    many cells were checked."""
    header, *data = rows
    assert [kinds[h] for h in header]  # every header is a known column
    checked = 0
    for row in data:
        assert len(row) == len(header)
        for name, cell in zip(header, row, strict=True):
            if kinds[name] == "count":
                assert cell == "*" or (cell.isdigit() and int(cell) % 5 == 0), (name, cell)
            elif kinds[name] == "statistic":
                assert cell == "*" or re.fullmatch(r"\d+\.\d", cell), (name, cell)
            checked += 1
    return checked


# ------------------------------------------------------------------------------ access


def test_a_place_lead_sees_their_own_place(demo):
    signed_in(demo, "place-lead")
    for url in (report_url(), report_url(place=PLACE), "/reports"):
        r = demo.get(url)
        assert r.status_code == 200, r.text
        assert f"Where pathways stall: {PLACE}" in r.text
    for heading in ("How long each stage takes", "Where most pathways are stuck",
                    "Queues growing", "Breaches by standard", "How long patients have waited",
                    "Do some groups wait longer?", "Trend over weeks"):
        assert heading in r.text
    assert "* = fewer than 8; counts rounded to the nearest 5" in r.text
    assert 'aria-current="page"' in r.text and "Bottleneck report" in r.text  # header menu
    assert r.headers["cache-control"] == "no-store"


def test_another_place_is_not_found_for_a_place_lead(demo):
    signed_in(demo, "place-lead")
    assert demo.get(report_url(place=OTHER_PLACE)).status_code == 404
    assert demo.get(report_url(place="Nowhere")).status_code == 404
    r = demo.get(f"/reports/trend.csv?place={OTHER_PLACE}&as_of={AS_OF}")
    assert r.status_code == 404 and "text/csv" not in r.headers["content-type"]
    assert demo.get(f"/reports/rtt.csv?place={OTHER_PLACE}").status_code == 404


@pytest.mark.parametrize("role", ["coordinator", "gp"])
def test_coordinators_and_gps_get_not_found(demo, role):
    """Decision: aggregate reports are the place lead's (and admins'); other roles get 404,
    as for any page outside their role (docs/access.md)."""
    signed_in(demo, role)
    for url in (report_url(), report_url(place=PLACE), f"/reports/trend.csv?place={PLACE}",
                f"/reports/rtt.csv?place={PLACE}"):
        r = demo.get(url)
        assert r.status_code == 404, url
        assert "text/csv" not in r.headers["content-type"]


@pytest.mark.parametrize("url", ["/reports", f"/reports?place={PLACE}&as_of=2026-01-01",
                                 "/reports/trend.csv", "/reports/rtt.csv"])
def test_without_a_session_the_sign_in_page_comes_first(demo, url):
    r = demo.get(url, follow_redirects=False)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/sign-in"
    assert parse_qs(location.query)["next"] == [url]
    htmx = demo.get(url, headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/sign-in")


def test_after_signing_in_a_place_lead_lands_on_the_report(demo):
    r = sign_in(demo, "place-lead")
    assert r.headers["location"] == "/reports"


def test_an_admin_picks_a_place(demo):
    signed_in(demo, "admin")
    r = demo.get("/reports")
    assert r.status_code == 200
    assert '<select class="nhsuk-select" id="place" name="place"' in r.text
    assert '<label class="nhsuk-label" for="place">Place</label>' in r.text
    for place in ("Basildon and Brentwood", "Mid Essex", "South East Essex", "Thurrock"):
        assert f'<option value="{place}">{place}</option>' in r.text
    assert "Choose a place" in r.text and "How long each stage takes" not in r.text
    chosen = demo.get(report_url(place=OTHER_PLACE.replace(" ", "+")))
    assert chosen.status_code == 200
    assert f"Where pathways stall: {OTHER_PLACE}" in chosen.text
    assert f'<option value="{OTHER_PLACE}" selected>' in chosen.text
    assert demo.get(report_url(place="Nowhere")).status_code == 404
    download = demo.get(f"/reports/rtt.csv?place={OTHER_PLACE}&as_of={AS_OF}")
    assert csv_rows(download)[0] == rtt.HEADER
    assert demo.get("/reports/rtt.csv").status_code == 400  # no place chosen


# ------------------------------------------------------------------------------ page and fragments


@pytest.mark.parametrize(
    "hx_target",
    [None, "", *SECTION_TARGETS],
    ids=["full-page", "htmx-no-target", "htmx-stages", "htmx-queues", "htmx-trend"],
)
def test_full_page_or_fragment(demo, hx_target):
    signed_in(demo, "place-lead")
    headers = {} if hx_target is None else {"HX-Request": "true", "HX-Target": hx_target}
    r = demo.get(report_url(by="provider", growing=2, weeks=8), headers=headers)
    assert r.status_code == 200
    assert "HX-Request" in r.headers["vary"]
    body = r.text
    if hx_target is None:
        assert body.lstrip().startswith("<!DOCTYPE html>") and "<header" in body
        assert 'id="report-form"' in body
        for target in (*SECTION_TARGETS, "report"):
            assert f'id="{target}"' in body
        return
    assert "<html" not in body and "<header" not in body and 'id="report-form"' not in body
    if hx_target == "":  # no known target: the whole report below the form
        assert body.lstrip().startswith('<div id="report">')
        assert all(f'id="{t}"' in body for t in SECTION_TARGETS)
        assert 'hx-swap-oob' not in body
        return
    assert body.lstrip().startswith(f'<div id="{hx_target}"')
    others = [t for t in SECTION_TARGETS if t != hx_target]
    assert not any(f'id="{t}"' in body for t in others)
    assert 'id="report-status"' in body and 'hx-swap-oob="true"' in body  # announced
    expected = {"stages-results": "by provider", "queues-results": "2 weeks in a row",
                "trend-results": "8 weeks"}[hx_target]
    assert expected in body
    assert "<svg" in body and "download" in body  # its chart and its CSV link


def test_section_controls_swap_their_section_and_keep_the_url(demo):
    signed_in(demo, "place-lead")
    page = demo.get(report_url()).text
    for target in SECTION_TARGETS:
        controls = re.search(
            rf'<div class="guardian-report-controls"([^>]*hx-target="#{target}"[^>]*)>', page)
        assert controls, target
        attrs = controls.group(1)
        assert 'hx-get="/reports"' in attrs and 'hx-push-url="true"' in attrs
        assert 'hx-include="#report-form"' in attrs and 'hx-trigger="change"' in attrs
    # Every control belongs to the one form, so each request carries the whole state ...
    for name in ("by", "stage", "qby", "growing", "weeks"):
        assert re.search(rf'<select [^>]*id="{name}" name="{name}" form="report-form"', page)
        assert f'<label class="nhsuk-label" for="{name}">' in page
    # ... and a CSV link carries the same state as the page.
    link = re.search(r'href="(/reports/stage-durations\.csv\?[^"]+)"', page).group(1)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["place"] == [PLACE] and query["as_of"] == [AS_OF.isoformat()]
    assert query["by"] == ["treatment_function"] and query["window"] == ["26"]


def test_charts_are_svg_with_titles_and_no_inline_styles(demo):
    signed_in(demo, "place-lead")
    r = demo.get(report_url(growing=2))
    charts = re.findall(r"<svg class=\"chart[^>]*>(.*?)</svg>", r.text, re.S)
    assert len(charts) >= 8
    for chart in charts:
        assert chart.startswith("<title>") and "<desc>" in chart
    assert 'role="img"' in r.text
    assert "style=" not in r.text and "<style" not in r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)  # no inline script
    # the trend's four series, each with a legend entry
    for name, modifier in (("Received", "in"), ("Off the list", "out"),
                           ("Breaches", "breaches"), ("Waiting", "waiting")):
        assert f"chart__line--{modifier}" in r.text and f">{name}</text>" in r.text
    # tables are the primary form: a caption and header cells with their scope
    assert r.text.count('<caption class="nhsuk-table__caption') >= 8
    assert 'scope="col"' in r.text and 'scope="row"' in r.text


def test_every_table_on_the_page_is_its_csv(demo, demo_settings):
    """The page and the download show the same rows, cell for cell."""
    signed_in(demo, "place-lead")
    params = {"growing": 2, "by": "pcn_code", "stage": "first-seen"}
    page = demo.get(report_url(**params))
    tables = page_tables(page.text)
    shown = [slug for slug in SLUGS if slug in tables]
    assert len(shown) >= 8, sorted(tables)
    for slug in shown:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        rows = csv_rows(demo.get(f"/reports/{slug}.csv?as_of={AS_OF}&{query}"))
        assert tables[slug] == rows, slug


def test_downloads_are_suppressed(demo):
    engine = demo.app.state.guardian.engine
    signed_in(demo, "place-lead")
    checked = 0
    for slug in SLUGS:
        for params in ({}, {"by": "provider", "stage": "diagnostic", "qby": "pcn_code",
                            "growing": 2, "window": 52, "weeks": 26}):
            query = "&".join(f"{k}={v}" for k, v in params.items())
            rows = csv_rows(demo.get(f"/reports/{slug}.csv?as_of={AS_OF}&{query}"))
            checked += check_suppressed(rows, column_kinds(engine, slug, **params))
    assert checked > 500
    export = demo.get(f"/reports/rtt.csv?as_of={AS_OF}")
    rows = csv_rows(export)
    assert rows[0] == rtt.HEADER and len(rows) > 1
    expected = io.StringIO()  # what `guardian export rtt --place P --suppress` writes
    with engine.connect() as conn:
        rtt.write_rtt(conn, expected, AS_OF, place=PLACE, suppress=True)
    assert export.text == expected.getvalue()
    kinds = {h: "label" for h in rtt.HEADER[:2]}
    kinds.update({h: "count" for h in rtt.HEADER[2:-3]})
    kinds.update({h: "statistic" for h in rtt.HEADER[-3:]})
    check_suppressed(rows, kinds)


def test_statistics_are_withheld_where_groups_are_small(demo):
    """A count shown as * (1–7 pathways) or 0 never comes with a median or percentage."""
    signed_in(demo, "place-lead")
    pairs = {  # table → (count column, the statistics that describe that group)
        "stage-durations": [("Completed in the last 26 weeks",
                             ("Median (weeks)", "9 in 10 within (weeks)")),
                            ("Still in this stage", ("Median so far (weeks)",))],
        "rtt-bands": [("Total waiting", ("% within 18 weeks", "Median wait (weeks)",
                                         "92nd percentile wait (weeks)"))],
        "equity-age": [("Waiting", ("Median wait (weeks)", "92nd percentile wait (weeks)",
                                    "% within 18 weeks"))],
        "equity-pcn": [("Waiting", ("Median wait (weeks)", "92nd percentile wait (weeks)",
                                    "% within 18 weeks"))],
    }
    small = 0
    for slug, checks in pairs.items():
        for by in ("treatment_function", "provider", "pcn_code"):
            header, *data = csv_rows(demo.get(f"/reports/{slug}.csv?as_of={AS_OF}&by={by}"))
            for row in data:
                cells = dict(zip(header, row, strict=True))
                for count, statistics in checks:
                    if cells[count] in ("*", "0"):
                        small += 1
                        assert all(cells[s] == "*" for s in statistics), (slug, cells)
    assert small, "the demo has small groups"
    rtt_rows = csv_rows(demo.get(f"/reports/rtt.csv?as_of={AS_OF}"))
    for row in rtt_rows[1:]:
        if row[rtt.HEADER.index("Total")] == "*":
            assert row[-3:] == ["*", "*", "*"]


def test_counts_are_the_exact_figures_rounded(demo):
    """Spot checks against the exact figures: the trend and the RTT waiting-list total."""
    engine = demo.app.state.guardian.engine
    scope = bn.ReportScope(place=PLACE)
    with engine.connect() as conn:
        exact = bn.trend(conn, scope, AS_OF, weeks=12, suppress=False)
        waiting = sum(1 for _ in rtt.waiting_days(conn, AS_OF, PLACE))
    signed_in(demo, "place-lead")
    header, *rows = csv_rows(demo.get(f"/reports/trend.csv?as_of={AS_OF}&weeks=12"))
    assert header == ["Week beginning", "Referrals received", "Came off the list",
                      "Waiting at the end of the week", "Breaches"]
    assert len(rows) == 12 and rows[-1][0] == bn.week_of(AS_OF).isoformat()
    for row, week in zip(rows, exact, strict=True):
        assert row[0] == week["week"].isoformat()
        assert row[1:] == [str(suppress_count(week[k]))
                           for k in ("inflow", "outflow", "waiting", "breaches")]
    bands = csv_rows(demo.get(f"/reports/rtt-bands.csv?as_of={AS_OF}"))
    total = dict(zip(bands[0], bands[-1], strict=True))
    assert total["Treatment function"] == "All treatment functions"
    assert total["Total waiting"] == str(suppress_count(waiting)) and waiting >= 8


def test_no_patient_level_data_in_pages_or_downloads(demo):
    engine = demo.app.state.guardian.engine
    secrets = secret_values(engine)
    signed_in(demo, "place-lead")
    bodies = [demo.get(report_url(growing=2)).text]
    bodies += [demo.get(report_url(by=by), headers={"HX-Request": "true",
                                                    "HX-Target": "stages-results"}).text
               for by in reports.GROUPINGS]
    bodies += [demo.get(f"/reports/{slug}.csv?as_of={AS_OF}&growing=2").text
               for slug in [*SLUGS, "rtt"]]
    for body in bodies:
        assert_no_patient_data(body, secrets)


# ------------------------------------------------------------------------------ dates


def test_a_past_as_of_date(demo):
    signed_in(demo, "place-lead")
    past = AS_OF - dt.timedelta(weeks=10)
    r = demo.get(report_url(as_of=past.isoformat()))
    assert r.status_code == 200
    assert f"{past:%-d %B %Y}" in r.text
    assert f'value="{past.isoformat()}"' in r.text  # the form keeps the date
    header, *rows = csv_rows(demo.get(f"/reports/trend.csv?as_of={past}"))
    assert rows[-1][0] == bn.week_of(past).isoformat()
    now = csv_rows(demo.get(f"/reports/trend.csv?as_of={AS_OF}"))
    assert rows != now[1:]
    long_ago = demo.get(report_url(as_of="2001-01-01"))  # before any data: empty, not broken
    assert long_ago.status_code == 200 and "Nobody was waiting" in long_ago.text


def test_the_default_date_is_today(demo):
    signed_in(demo, "place-lead")
    today = demo.app.state.guardian.today()
    r = demo.get("/reports")
    assert r.status_code == 200 and f"{today:%-d %B %Y}" in r.text
    trend = csv_rows(demo.get("/reports/trend.csv"))
    assert trend[-1][0] == bn.week_of(today).isoformat()


@pytest.mark.parametrize(
    "as_of, message",
    [("2026-02-30", "Enter a real date"),
     ("31/03/2026", "Enter the date as year-month-day"),
     ("yesterday", "Enter the date as year-month-day"),
     ("2026-3-1", "Enter the date as year-month-day"),
     ("9999-12-31", "or earlier"),
     ("1999-12-31", "1 January 2000 or later")],
)
def test_a_bad_as_of_date_gets_a_clear_message(demo, as_of, message):
    signed_in(demo, "place-lead")
    r = demo.get(report_url(as_of=as_of, by="provider"))
    assert r.status_code == 400
    assert "There is a problem" in r.text and message in r.text
    assert '<a href="#as_of">' in r.text and 'id="as_of-error"' in r.text
    assert f'value="{as_of}"' in r.text  # what was typed is kept
    assert '<input type="hidden" name="by" value="provider">' in r.text  # and the rest
    assert "Traceback" not in r.text and "How long each stage takes" not in r.text
    htmx = demo.get(report_url(as_of=as_of), headers={"HX-Request": "true",
                                                      "HX-Target": "stages-results"})
    assert htmx.status_code == 400 and htmx.headers["hx-redirect"].startswith("/reports?")
    download = demo.get(f"/reports/trend.csv?as_of={as_of}")
    assert download.status_code == 400 and message in download.text
    assert download.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "field, value, message",
    [("window", "5", "Choose a time window"), ("window", "abc", "Choose a time window"),
     ("weeks", "1000000", "Choose how many weeks of trend"),
     ("by", "patient_id", "Choose how to group stage durations"),
     ("stage", "nonsense", "Choose a stage"),
     ("qby", "age_band", "Choose how to group growing queues"),
     ("growing", "13", "Choose how many weeks of growth")],
)
def test_bad_choices_get_a_clear_message(demo, field, value, message):
    signed_in(demo, "place-lead")
    r = demo.get(report_url(**{field: value}))
    assert r.status_code == 400 and message in r.text
    assert f'<a href="#{field}">' in r.text and f'id="{field}"' in r.text  # fixable here
    assert demo.get(f"/reports/trend.csv?{field}={value}").status_code == 400


def test_unknown_tables_are_not_found(demo):
    signed_in(demo, "place-lead")
    assert demo.get("/reports/patients.csv").status_code == 404
    assert demo.get("/reports/worklist.csv").status_code == 404


# ------------------------------------------------------------------------------ audit


def test_views_and_downloads_are_audited_without_patient_ids(demo):
    engine = demo.app.state.guardian.engine
    signed_in(demo, "place-lead")
    before = len(audit.entries(engine, action="view-report", limit=1000))
    demo.get(report_url())
    demo.get(report_url(by="provider"), headers={"HX-Request": "true",
                                                  "HX-Target": "stages-results"})
    demo.get(f"/reports/breaches.csv?as_of={AS_OF}")
    demo.get(f"/reports/rtt.csv?as_of={AS_OF}")
    demo.get(report_url(as_of="bad"))  # an error is not a view
    views = audit.entries(engine, action="view-report", limit=1000)
    assert len(views) == before + 2
    fragment, page = views[0], views[1]
    assert page.user_email == ACCOUNTS["place-lead"][0] and page.role == "place-lead"
    assert f"place={PLACE}" in page.detail and f"as_of={AS_OF}" in page.detail
    assert "section=page" in page.detail and "section=stages" in fragment.detail
    downloads = audit.entries(engine, action="download-report", limit=2)
    assert ["table=rtt" in d.detail for d in downloads] == [True, False]
    assert "table=breaches" in downloads[1].detail
    for entry in (*views[:2], *downloads):
        assert entry.patient_id is None and entry.pathway_id is None
        assert entry.client == "testclient"


# ------------------------------------------------------------------------------ both databases


def test_reports_on_each_database(database_url, tmp_path):
    """The whole page, every download and the RTT export, on SQLite and PostgreSQL."""
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var",
                        secret_key="test-secret-key")
    _prepare(settings, patients=300, seed=4)
    with TestClient(create_app(settings, follow_events=False)) as client:
        engine = client.app.state.guardian.engine
        secrets = secret_values(engine)
        signed_in(client, "place-lead")
        page = client.get(report_url(growing=2))
        assert page.status_code == 200 and "<svg" in page.text
        assert_no_patient_data(page.text, secrets)
        tables = page_tables(page.text)
        for slug in SLUGS:
            rows = csv_rows(client.get(f"/reports/{slug}.csv?as_of={AS_OF}&growing=2"))
            check_suppressed(rows, column_kinds(engine, slug, growing=2))
            assert_no_patient_data("\n".join(",".join(r) for r in rows), secrets)
            if slug in tables:
                assert tables[slug] == rows, slug
        export = client.get(f"/reports/rtt.csv?as_of={AS_OF}")
        assert csv_rows(export)[0] == rtt.HEADER
        assert_no_patient_data(export.text, secrets)
        signed_in(client, "admin")
        assert client.get(report_url(place=OTHER_PLACE.replace(" ", "+"))).status_code == 200


# ------------------------------------------------------------------------------ internals


def test_median_by_pcn_and_age_band_agrees_with_the_equity_view(demo):
    """One query for the PCN × age band table; the same figures as `bn.equity` per PCN."""
    engine = demo.app.state.guardian.engine
    p = reports.Params(place=PLACE, as_of=AS_OF)
    with engine.connect() as conn:
        t = reports.build(conn, p, ("equity-pcn-age",))["equity-pcn-age"]
        labels = reports.Labels(conn)
        expected = []
        for row in bn.equity(conn, p.scope, p.as_of, "pcn_code"):
            scope = bn.ReportScope(place=PLACE, pcns=frozenset({row["group"]}))
            medians = {r["group"]: r["median_weeks"]
                       for r in bn.equity(conn, scope, p.as_of, "age_band")}
            expected.append([labels.group("pcn_code", row["group"]),
                             *[medians.get(b, "*") for b in bn.AGE_BANDS]])
        whole = {r["group"]: r["median_weeks"]
                 for r in bn.equity(conn, p.scope, p.as_of, "age_band")}
    expected.append(["Whole place", *[whole.get(b, "*") for b in bn.AGE_BANDS]])
    got = [[r["group"], *[r[b] for b in bn.AGE_BANDS]] for r in t.rows]
    assert sorted(got[:-1]) == sorted(expected[:-1]) and got[-1] == expected[-1]
    assert any(v != "*" for row in got for v in row[1:])


def test_built_tables_are_reused_until_the_store_moves_on(demo, monkeypatch):
    engine = demo.app.state.guardian.engine
    cache = reports.TableCache(size=2)
    p = reports.Params(place=PLACE, as_of=AS_OF)
    clock = [1000.0]
    monkeypatch.setattr(caches.time, "monotonic", lambda: clock[0])
    with engine.connect() as conn:
        head = reports.TableCache.head(conn)
        first = reports.build(conn, p, ("breaches",), cache, head)["breaches"]
        assert reports.build(conn, p, ("breaches",), cache, head)["breaches"] is first
        # a new event: the table just built is still shown for `fresh` seconds (the retry
        # after "being prepared", a shared link opened at once), then built again
        assert reports.build(conn, p, ("breaches",), cache, head + 1)["breaches"] is first
        clock[0] += cache.fresh + 1
        later = reports.build(conn, p, ("breaches",), cache, head + 1)["breaches"]
        assert later is not first and later.rows == first.rows
        for window in (4, 13):
            other = reports.build(conn, reports.Params(place=PLACE, as_of=AS_OF, window=window),
                                  ("breaches",), cache, head + 1)["breaches"]
            assert other.caption != first.caption
        # bounded: the least recently used went
        assert cache.get("breaches", p, head + 1) is None
        # and no older than `seconds`, even at the same head
        cache.put("trend", p, head, first)
        assert cache.get("trend", p, head) is first
        clock[0] += cache.seconds + 1
        assert cache.get("trend", p, head) is None
