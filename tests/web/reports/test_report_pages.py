"""Place-lead report pages (/reports): who may see them, sign-in first, an admin choosing
a place, the full page and the htmx fragments of its sections, charts, past and bad as-of
dates and settings, unknown tables, and the audit of views and downloads. The tests share
one SQLite store with the demo loaded once (tests/web/reports/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from report_helpers import (
    AS_OF,
    OTHER_PLACE,
    PLACE,
    SECTION_TARGETS,
    csv_rows,
    report_url,
    signed_in,
)
from web_helpers import ACCOUNTS, sign_in

from guardian import audit
from guardian.projections import bottlenecks as bn
from guardian.projections import rtt


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
