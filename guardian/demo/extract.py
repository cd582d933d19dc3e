"""The demo cohort as a waiting-list extract (PTL CSV): the columns of the importer's own
table (guardian/ingest/ptl/columns.py), in the order docs/formats.md lists them, one row per
report. `write_extract` writes a whole file, as `guardian import-ptl` reads it.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from guardian.demo.cohort import generate_reports
from guardian.domain.report import ReferralReport
from guardian.ingest.ptl import HEADER, TABLE
from guardian.orgs import Practice

_FIELDS = tuple(c.field for c in TABLE)  # in the order of HEADER


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def extract_row(report: ReferralReport) -> list[str]:
    """One report as a row under `HEADER`: dates as YYYY-MM-DD, nothing as an empty cell."""
    return [_cell(getattr(report, name)) for name in _FIELDS]


def write_extract(
    path: Path | str, n_patients: int, seed: int, as_of: dt.date, practices: Sequence[Practice]
) -> int:
    """Write the demo cohort as a PTL CSV (docs/formats.md column names); return the rows written.

    Streams to a temporary file beside `path` and renames it into place, so a reader never
    sees half a file.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for report in generate_reports(n_patients, seed, as_of, practices):
            writer.writerow(extract_row(report))
            rows += 1
    os.replace(tmp, path)
    return rows

