"""The committed example files are exactly what examples/make_examples.py writes, and they
have the properties examples/README.md promises (and other tests rely on)."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import sys
from pathlib import Path

from guardian.domain.identifiers import is_test_range, is_valid_nhs_number

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _script():
    spec = importlib.util.spec_from_file_location("make_examples",
                                                  EXAMPLES / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_committed_files_are_the_scripts_output():
    rendered = _script().render()
    assert set(rendered) == {"orgs-example.csv", "providers-example.csv", "ptl-example.csv"}
    for name, text in rendered.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, (
            f"examples/{name} is out of date: run python examples/make_examples.py")


def test_the_script_is_deterministic():
    assert _script().render() == _script().render()


def _rows(name: str) -> list[dict[str, str]]:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_extract_has_the_documented_rows():
    rows = _rows("ptl-example.csv")
    assert len(rows) == 10  # lines 2–11
    by_line = {n: row for n, row in enumerate(rows, start=2)}
    for line in range(2, 12):
        nhs = by_line[line]["NHS_NUMBER"].replace(" ", "")
        assert is_test_range(nhs)
        assert is_valid_nhs_number(nhs) == (line != 9), line
    as_of = dt.date(2026, 3, 31)

    def start(line: int) -> dt.date:
        return dt.date.fromisoformat(by_line[line]["REFERRAL_TO_TREATMENT_PERIOD_START_DATE"])

    assert (as_of - start(2)).days == 148
    assert by_line[4]["PRIORITY_TYPE_CODE"] == "3" and " " in by_line[4]["NHS_NUMBER"]
    assert by_line[6]["REFERRAL_TO_TREATMENT_PERIOD_END_DATE"] == "2026-01-15"
    assert start(7) == dt.date(2024, 2, 29)
    assert by_line[8]["REFERRAL_REQUEST_RECEIVED_DATE"] == as_of.isoformat()
    assert by_line[10]["GENERAL_MEDICAL_PRACTICE_CODE"] == "Z99999"
    assert by_line[11]["REFERRAL_REQUEST_RECEIVED_DATE"] == "2025-02-30"
    practices = {r["PRACTICE_CODE"] for r in _rows("orgs-example.csv")}
    assert "Z99999" not in practices
    assert {by_line[n]["GENERAL_MEDICAL_PRACTICE_CODE"] for n in range(2, 9)} <= practices


def test_the_org_reference_has_three_practices_two_pcns_two_places():
    rows = _rows("orgs-example.csv")
    assert len(rows) == 3
    assert len({r["PCN_CODE"] for r in rows}) == 2
    assert len({r["PLACE"] for r in rows}) == 2
