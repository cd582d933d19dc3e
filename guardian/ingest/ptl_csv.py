"""The PTL importer's old import path, kept only while `guardian/cli.py` and the web API
still name it: the importer is the package `guardian.ingest.ptl`, and the paced import that
the CLI runs is `guardian.bootstrap.import_extract`.
"""

from __future__ import annotations

from guardian.ingest.ptl import (
    COLUMNS,
    REQUIRED,
    ImportResult,
    MalformedExtract,
    RecordParser,
    bulk_gc,
    field_problem,
    parse_date,
    parse_record,
)

__all__ = ["COLUMNS", "REQUIRED", "MalformedExtract", "RecordParser", "bulk_gc",
           "field_problem", "import_extract", "parse_date", "parse_record"]


def import_extract(app, *args, **kwargs) -> ImportResult:
    from guardian.bootstrap import import_extract as paced

    return paced(app, *args, **kwargs)
