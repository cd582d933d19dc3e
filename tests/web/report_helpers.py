"""Helpers of the place report tests (tests/web/reports/): the shared demo store's
preparation, report URLs, CSV rows, the report tables as the page shows them, and the checks
that nothing patient-level is shown and every count and statistic is suppressed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_helpers import ACCOUNTS, PASSWORD, sign_in

from guardian import users
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.projections.registry import runner_for
from guardian.waits import check_waits
from guardian.web import reports

AS_OF = min(dt.date(2026, 3, 31), dt.date.today() - dt.timedelta(days=2))
PLACE = ACCOUNTS["place-lead"][1][0]  # Thurrock
OTHER_PLACE = "Mid Essex"
SLUGS = sorted(reports.TABLES)
SECTION_TARGETS = ("stages-results", "queues-results", "trend-results")


def prepare(settings: Settings, patients: int, seed: int) -> None:
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
