"""The waiting-list extract (PTL CSV) importer, exactly as docs/formats.md describes it, in
modules by job: the column table (`columns`), one record into a report (`parse`), the first
pass over the file (`scan`), the batched writes (`pipeline`), worker processes (`workers`),
the import as a whole (`importer`), what it reports (`results`), batches and the caller's
pacing (`pacing`) and the garbage collector during a bulk load (`memory`). It imports no read
model: whoever builds an import passes its `Pacing` (guardian.bootstrap.import_extract).
"""

from guardian.ingest.ptl.columns import (
    COLUMNS,
    HEADER,
    OPTIONAL,
    REQUIRED,
    TABLE,
    field_problem,
    parse_date,
)
from guardian.ingest.ptl.importer import import_extract
from guardian.ingest.ptl.memory import bulk_gc
from guardian.ingest.ptl.pacing import BATCH_SIZE, Pacer, Pacing
from guardian.ingest.ptl.parse import RecordParser, parse_record
from guardian.ingest.ptl.results import ImportResult, MalformedExtract, RowError

__all__ = [
    "BATCH_SIZE", "COLUMNS", "HEADER", "OPTIONAL", "REQUIRED", "TABLE", "ImportResult",
    "MalformedExtract", "Pacer", "Pacing", "RecordParser", "RowError", "bulk_gc",
    "field_problem", "import_extract", "parse_date", "parse_record",
]
