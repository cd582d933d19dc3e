"""What an import tells its caller: `ImportResult` (the counts `guardian import-ptl` prints
and `--json` gives), the `RowError`s of rejected rows and the errors CSV they are written to
(docs/cli.md), and `MalformedExtract` for a file refused whole, before anything is written.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path


class MalformedExtract(Exception):
    """The file is not a waiting-list extract; it was refused whole and nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: int = 0
    left_waiting_list: int = 0
    errors_file: str | None = None
    errors: list[RowError] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    worker_peak_rss_mb: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors_file": self.errors_file,
            "left_waiting_list": self.left_waiting_list,
        }


def default_errors_path(path: Path) -> Path:
    """Where the errors CSV goes without --errors: beside the extract (docs/cli.md)."""
    return path.with_name(path.name + ".errors.csv")


def check_errors_path(path: Path) -> None:
    """Refuse the import before anything is written when its errors CSV could not be
    written at the end (docs/cli.md): a directory, a missing folder, no permission."""
    if path.is_dir():
        raise MalformedExtract(f"{path}: the errors file is a directory; give a file path "
                               "with --errors")
    probe = path.with_name(path.name + ".tmp")  # what write_errors writes first
    try:
        with open(probe, "w", encoding="utf-8"):
            pass
        probe.unlink()
    except OSError as e:
        raise MalformedExtract(
            f"{path}: the errors file cannot be written ({e.strerror or e}); give a writable "
            "path with --errors; nothing was imported"
        ) from None


def write_errors(errors: list[RowError], path: Path) -> str | None:
    """The errors CSV (line, column, reason), in line order; None when there is none."""
    if not errors:
        return None
    errors.sort(key=lambda e: e.line)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", "column", "reason"])
        for e in errors:
            w.writerow([e.line, e.column or "", e.reason])
    os.replace(tmp, path)
    return str(path)
