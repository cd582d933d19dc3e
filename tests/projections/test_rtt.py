"""The RTT export against hand-computed expectations (docs/formats.md "RTT export",
docs/rules.md §6)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.domain.report import ReferralReport
from guardian.domain.standards import RTT_BAND_COLUMNS
from guardian.orgs import load_orgs, read_org_file
from guardian.projections.registry import runner_for
from guardian.projections.rtt import HEADER, write_rtt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    shutil.copy(EXAMPLES / "ptl-example.csv", tmp_path / "ptl.csv")
    import_extract(guardian, tmp_path / "ptl.csv", AS_OF)
    yield guardian
    guardian.close()


def export(app, as_of=AS_OF, place=None, suppress=False) -> list[dict[str, str]]:
    runner_for(app).run_once()
    out = io.StringIO()
    with app.engine.connect() as conn:
        write_rtt(conn, out, as_of, place, suppress)
    out.seek(0)
    reader = csv.DictReader(out)
    assert reader.fieldnames == HEADER
    return list(reader)


def band_of(row: dict[str, str]) -> list[str]:
    return [c for c in RTT_BAND_COLUMNS if row[c] != "0"]


def test_the_example_as_hand_computed(app):
    rows = export(app)
    assert [(r["Provider Org Code"], r["Treatment Function Code"]) for r in rows] == [
        ("RAJ", "C_101"), ("RAJ", "C_110"), ("RAJ", "C_120"), ("RAJ", "C_301"),
        ("RAJ", "C_330"), ("RAJ", "X02"), ("RAJ", "C_999"),
    ]
    by = {r["Treatment Function Code"]: r for r in rows}
    # PPI-0003 29 days; PPI-0001 148; PPI-0004 561; PPI-0007 0; PPI-0002 39;
    # PPI-0006 from 29 Feb 2024: 761 days (> 728); PPI-0005 stopped 2026-01-15: not counted
    assert band_of(by["C_101"]) == ["Gt 04 To 05 Weeks SUM 1"]
    assert band_of(by["C_110"]) == ["Gt 21 To 22 Weeks SUM 1"]  # ceil(148 / 7) - 1 = 21
    assert band_of(by["C_120"]) == ["Gt 80 To 81 Weeks SUM 1"]
    assert band_of(by["C_301"]) == ["Gt 00 To 01 Weeks SUM 1"]
    assert band_of(by["C_330"]) == ["Gt 05 To 06 Weeks SUM 1"]
    assert band_of(by["X02"]) == ["Gt 104 Weeks SUM 1"]
    total = by["C_999"]
    assert (total["Total"], total["Total Within 18 Weeks"], total["% Within 18 Weeks"]) == (
        "6", "3", "50.0"
    )
    # median (39 + 148) / 2 = 93.5 days = 13.36 weeks; 92nd: 561 + 0.6 × 200 = 681 d = 97.29 w
    assert total["Average (Median) Waiting Time (in weeks)"] == "13.4"
    assert total["92nd Percentile Waiting Time (in weeks)"] == "97.3"


def test_a_past_date_counts_what_was_waiting_then(app):
    rows = {r["Treatment Function Code"]: r for r in export(app, dt.date(2026, 1, 14))}
    assert "C_502" in rows  # PPI-0005: started 2025-06-02, stopped 2026-01-15
    assert band_of(rows["C_502"]) == ["Gt 32 To 33 Weeks SUM 1"]  # 226 days
    assert "C_330" not in rows and "C_301" not in rows  # not yet referred
    stopped_day = {r["Treatment Function Code"] for r in export(app, dt.date(2026, 1, 15))}
    assert "C_502" not in stopped_day  # a clock stops on its end date


def test_place_selects_by_the_pathways_practice(app):
    codes = [r["Treatment Function Code"] for r in export(app, place="Mid Essex")]
    assert "C_120" not in codes  # PPI-0004 is at Z90003, South East Essex
    assert codes[-1] == "C_999"


def test_suppression(app):
    rows = export(app, suppress=True)
    total = rows[-1]
    assert total["Total"] == "*" and total["% Within 18 Weeks"] == "*"
    assert all(r["Gt 50 To 51 Weeks SUM 1"] == "0" for r in rows)  # zero stays zero


@pytest.mark.parametrize(
    "days, band, within",
    [(126, "Gt 17 To 18 Weeks SUM 1", "1"), (127, "Gt 18 To 19 Weeks SUM 1", "0"),
     (7, "Gt 00 To 01 Weeks SUM 1", "1"), (8, "Gt 01 To 02 Weeks SUM 1", "1"),
     (728, "Gt 103 To 104 Weeks SUM 1", "0"), (729, "Gt 104 Weeks SUM 1", "0")],
)
def test_week_band_boundaries(app, days, band, within):
    start = AS_OF - dt.timedelta(days=days)
    report = ReferralReport(
        provider="RQW", pathway_id=f"B{days}", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="100",
        priority=1, waiting_list_type="ORTT", received_on=start, clock_start=start, as_of=AS_OF,
    )
    app.apply_reports([report, dataclasses.replace(report, pathway_id="NON",
                                                   waiting_list_type="ONON")])
    rows = [r for r in export(app) if r["Provider Org Code"] == "RQW"]
    assert [r["Treatment Function Code"] for r in rows] == ["C_100", "C_999"]
    assert band_of(rows[0]) == [band]
    assert (rows[0]["Total"], rows[0]["Total Within 18 Weeks"]) == ("1", within)
