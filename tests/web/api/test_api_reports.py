"""The place report route of the JSON API, on SQLite and PostgreSQL (docs/api.md): a place
lead gets their own place's report, suppressed; every other role and place 404; bad
parameters 422.
"""

from __future__ import annotations

from api_helpers import NHS, days_ago, entries, locs, today

# ---------------------------------------------------------------------------- reports


def test_a_place_lead_gets_their_places_report_suppressed(worklist, engine, tokens):
    r = worklist.get("/api/v1/reports/bottlenecks", headers=tokens["place-lead"])
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["place"] == "Thurrock" and report["suppressed"] is True
    assert report["as_of"] == today().isoformat()
    (grays,) = report["equity_by_pcn"]
    assert grays["group"] == "U90024"
    assert grays["waiting"] == "*" and grays["median_weeks"] == "*"  # one pathway: hidden
    assert NHS[8] not in r.text and "TesterWL-8" not in r.text and "WL-8" not in r.text
    same = worklist.get("/api/v1/reports/bottlenecks",
                        params={"place": "thurrock", "as_of": days_ago(7)},
                        headers=tokens["place-lead"])
    assert same.status_code == 200 and same.json()["as_of"] == days_ago(7)
    assert [e.detail for e in entries(engine, "view-report")][-1].startswith(
        "bottlenecks place=Thurrock")


REPORT_SCOPE = [
    ("place-lead", "Mid Essex", 404),  # another place
    ("place-lead", "Atlantis", 404),  # no such place
    ("coordinator", "Basildon and Brentwood", 404),
    ("coordinator", None, 404),
    ("gp", "Basildon and Brentwood", 404),
    ("admin", "Mid Essex", 200), ("admin", "Atlantis", 404),
]


def test_report_scope(worklist, tokens):
    for role, place, expected in REPORT_SCOPE:
        r = worklist.get("/api/v1/reports/bottlenecks",
                         params={"place": place} if place else {}, headers=tokens[role])
        assert r.status_code == expected, (role, place, r.text)
        if expected == 200:
            assert r.json()["place"] == place and r.json()["suppressed"] is True


def test_report_parameters(worklist, tokens):
    assert locs(worklist.get("/api/v1/reports/bottlenecks", headers=tokens["admin"])) == [
        ["query", "place"]]
    bad_date = worklist.get("/api/v1/reports/bottlenecks",
                            params={"place": "Thurrock", "as_of": "2026-02-30"},
                            headers=tokens["place-lead"])
    assert locs(bad_date) == [["query", "as_of"]]
