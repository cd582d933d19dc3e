"""The worklist route of the JSON API, on SQLite and PostgreSQL (docs/api.md): a PCN's
worklist with counts, attribute filters and sorts, keyset pages that cover the list once,
422 naming each bad parameter (the cursor too) and 404 outside the caller's scope.
"""

from __future__ import annotations

import pytest
from api_helpers import HOME, NHS, entries, locs, post, row, today

from guardian.projections.worklist import FILTERS


def test_a_coordinator_reads_a_pcn_worklist_with_counts(worklist, engine, tokens):
    r = worklist.get("/api/v1/worklists/U90001", headers=tokens["coordinator"])
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["pcn_code"] == "U90001" and page["sort"] == "next-deadline"
    assert r.headers["cache-control"] == "no-store"
    assert page["as_of"] == today().isoformat() and page["next"] is None
    assert sorted(x["pathway_id"] for x in page["rows"]) == [f"WL-{n}" for n in range(7)]
    assert page["counts"]["all"] == 7 and set(FILTERS) <= set(page["counts"])
    assert page["counts"]["unassigned"] == 7
    first = next(x for x in page["rows"] if x["pathway_id"] == "WL-2")
    assert first["days_waiting"] == 16 and first["nhs_number"] == NHS[2]
    assert first["breached"] is False and first["pcn_code"] == "U90001"
    assert "deadline_sort" not in first and "wait_from" not in first
    (seen,) = entries(engine, "view-worklist")
    assert seen.user_email == "sam@guardian.test" and "pcn=U90001" in seen.detail


def test_attribute_filters_and_sorts(worklist, tokens):
    coordinator = tokens["coordinator"]

    def ids(**params):
        r = worklist.get("/api/v1/worklists/u90001", params=params, headers=coordinator)
        assert r.status_code == 200, r.text
        return [x["pathway_id"] for x in r.json()["rows"]]

    assert sorted(ids(practice="y90001")) == ["WL-0", "WL-2", "WL-4", "WL-6"]
    assert ids(priority=2) == ["WL-3"]
    assert ids(provider="RQW") == [] and len(ids(provider="raj")) == 7
    assert len(ids(treatment_function="110", stage="awaiting-first-appointment")) == 7
    assert ids(sort="days-waiting") == [f"WL-{n}" for n in range(6, -1, -1)]
    assert ids(filter=["unassigned", "workup-incomplete"]) == []
    r = worklist.get("/api/v1/worklists/U90001", params={"practice": HOME, "priority": 1},
                     headers=coordinator)
    assert r.json()["counts"]["all"] == 4
    assert r.json()["attributes"] == {"practice_code": HOME, "priority": 1}


@pytest.mark.parametrize("sort", ["next-deadline", "days-waiting"])
def test_keyset_pages_cover_the_list_once(worklist, tokens, sort):
    coordinator = tokens["coordinator"]
    whole = worklist.get("/api/v1/worklists/U90001", params={"sort": sort, "limit": 200},
                         headers=coordinator).json()["rows"]
    seen, after, pages = [], None, 0
    while True:
        params = {"sort": sort, "limit": 3, **({"after": after} if after else {})}
        page = worklist.get("/api/v1/worklists/U90001", params=params,
                            headers=coordinator).json()
        seen += [x["pathway_id"] for x in page["rows"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == [x["pathway_id"] for x in whole] and len(seen) == 7 and pages == 3


BAD_PARAMETERS = [
    ({"filter": "nonsense"}, ["query", "filter", 0]),
    ({"filter": ["breached", "nonsense"]}, ["query", "filter", 1]),
    ({"sort": "alphabetical"}, ["query", "sort"]),
    ({"limit": 0}, ["query", "limit"]),
    ({"limit": 201}, ["query", "limit"]),
    ({"limit": "ten"}, ["query", "limit"]),
    ({"priority": 4}, ["query", "priority"]),
    ({"stage": "asleep"}, ["query", "stage"]),
    ({"practice": "nowhere"}, ["query", "practice"]),
    ({"provider": "R!"}, ["query", "provider"]),
    ({"treatment_function": "1100"}, ["query", "treatment_function"]),
    ({"after": "not-a-cursor"}, ["query", "after"]),
    ({"after": "W10="}, ["query", "after"]),  # base64 of "[]"
    ({"after": "WyJuZXh0LWRlYWRsaW5lIiwiMjAyNi0wMi0zMCIsIlJBSiIsIngiXQ=="},
     ["query", "after"]),  # ["next-deadline","2026-02-30","RAJ","x"]
    ({"after": "WyJuZXh0LWRlYWRsaW5lIiwiMjAyNi0wMi0yOCIsIlJcdTAwMDAiLCJ4Il0="},
     ["query", "after"]),  # a NUL in the provider
]


def test_bad_worklist_parameters_are_422_naming_the_parameter(worklist, tokens):
    for params, loc in BAD_PARAMETERS:
        r = worklist.get("/api/v1/worklists/U90001", params=params,
                         headers=tokens["coordinator"])
        assert locs(r) == [loc], params


def test_a_cursor_from_another_sort_is_422(worklist, tokens):
    coordinator = tokens["coordinator"]
    cursor = worklist.get("/api/v1/worklists/U90001", params={"limit": 2},
                          headers=coordinator).json()["next"]
    r = worklist.get("/api/v1/worklists/U90001", headers=coordinator,
                     params={"after": cursor, "sort": "days-waiting"})
    assert locs(r) == [["query", "after"]] and "sort=next-deadline" in r.json()["detail"][0][
        "msg"]


WORKLIST_SCOPE = [
    ("coordinator", "U90001", 200), ("coordinator", "U90002", 200),
    ("coordinator", "U90024", 404),  # another PCN
    ("gp", "U90001", 404),  # a GP's view is their practice, not the PCN worklist
    ("place-lead", "U90024", 404),
    ("admin", "U90024", 200), ("admin", "U99999", 404),  # no such PCN
    ("admin", "U900011111", 404),
    ("admin", "U9%000", 422),  # a control character: refused as input (docs/api.md)
]


def test_worklist_scope(worklist, engine, tokens):
    for role, pcn, expected in WORKLIST_SCOPE:
        views = len(entries(engine, "view-worklist"))
        r = worklist.get(f"/api/v1/worklists/{pcn}", headers=tokens[role])
        assert r.status_code == expected, (role, pcn)
        if expected == 200:
            assert {x["pcn_code"] for x in r.json()["rows"]} == {pcn}
            assert len(entries(engine, "view-worklist")) == views + 1
        else:
            assert r.json()["detail"] == ("Not Found" if expected == 404 else [
                {"loc": ["path", "pcn_code"], "type": "value_error",
                 "msg": "contains a control character (U+0000), which is not allowed"}])
            assert len(entries(engine, "view-worklist")) == views


def test_counts_are_reused_until_the_worklist_changes(worklist, tokens, monkeypatch):
    """The counts scan every row of the PCN: the API and the page reuse them (one cache
    entry per scope, PCN, drop-downs, filters, day and the worklist's position) and count
    again once a new event has been projected (guardian/web/caches.py)."""
    from guardian.projections import worklist as wl

    scans = []
    real = wl.counts
    monkeypatch.setattr(wl, "counts", lambda *a, **k: scans.append(a) or real(*a, **k))
    coordinator = tokens["coordinator"]

    def counted() -> int:
        r = worklist.get("/api/v1/worklists/U90001", headers=coordinator)
        assert r.status_code == 200, r.text
        return r.json()["counts"]["all"]

    assert counted() == 7 and counted() == 7 and len(scans) == 1
    r = worklist.get("/worklist?pcn=U90001", headers=coordinator)  # the page: the same entry
    assert r.status_code == 200 and len(scans) == 1
    post(worklist, tokens["admin"], row(NHS[9], "WL-9", HOME), expect=201)
    assert counted() == 8 and len(scans) == 2
