"""Place report tables and their CSV downloads: each download is its table on the page, the
small-number rule on everything shown or downloaded, no patient-level data, the whole page
and every download on SQLite and PostgreSQL (`database_url`), and the tables' internals
(the PCN × age band query, the table cache).
"""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from report_helpers import (
    AS_OF,
    OTHER_PLACE,
    PLACE,
    SLUGS,
    assert_no_patient_data,
    check_suppressed,
    column_kinds,
    csv_rows,
    page_tables,
    prepare,
    report_url,
    secret_values,
    signed_in,
)

from guardian.config import Settings
from guardian.projections import bottlenecks as bn
from guardian.projections import rtt
from guardian.projections.report_queries import event_head
from guardian.projections.suppression import suppress_count
from guardian.web import caches, reports
from guardian.web.app import create_app


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


def test_reports_on_each_database(database_url, tmp_path):
    """The whole page, every download and the RTT export, on SQLite and PostgreSQL."""
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var",
                        secret_key="test-secret-key")
    prepare(settings, patients=300, seed=4)
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
        head = event_head(conn)
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
