"""The organisation reference: practice → PCN → place (`guardian orgs load`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_pcn_code, normalise_practice_code
from guardian.store import dialect_insert, organisations

COLUMNS = ("PRACTICE_CODE", "PRACTICE_NAME", "PCN_CODE", "PCN_NAME", "PLACE")


class OrgFileError(Exception):
    """The organisation file cannot be loaded; nothing was written."""


@dataclass(frozen=True)
class Practice:
    practice_code: str
    practice_name: str
    pcn_code: str
    pcn_name: str
    place: str


def read_org_file(path: Path) -> list[Practice]:
    """Parse and check the whole file first: one bad row refuses the file (reference data)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise OrgFileError(f"{path}: the file is empty (no header row)")
            names = [h.strip().upper() for h in header]
            missing = [c for c in COLUMNS if c not in names]
            if missing:
                raise OrgFileError(f"{path}: missing column(s) {', '.join(missing)}")
            idx = {c: names.index(c) for c in COLUMNS}
            practices: dict[str, Practice] = {}
            problems: list[str] = []
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(names):
                    problems.append(f"line {line}: {len(values)} fields, header has {len(names)}")
                    continue
                try:
                    p = Practice(
                        practice_code=normalise_practice_code(values[idx["PRACTICE_CODE"]]),
                        practice_name=_required(values[idx["PRACTICE_NAME"]], "PRACTICE_NAME"),
                        pcn_code=normalise_pcn_code(values[idx["PCN_CODE"]]),
                        pcn_name=_required(values[idx["PCN_NAME"]], "PCN_NAME"),
                        place=_required(values[idx["PLACE"]], "PLACE"),
                    )
                except InvalidValue as e:
                    problems.append(f"line {line}: {e.message}")
                    continue
                if p.practice_code in practices:
                    problems.append(f"line {line}: practice {p.practice_code} appears twice")
                practices[p.practice_code] = p
    except UnicodeDecodeError:
        raise OrgFileError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise OrgFileError(f"{path}: cannot read the file ({e.strerror})") from None
    if problems:
        raise OrgFileError(f"{path}: nothing loaded; " + "; ".join(problems[:20]))
    return list(practices.values())


def _required(value: str, column: str) -> str:
    v = value.strip()
    if not v:
        raise InvalidValue(f"{column} is empty", field=column)
    return v


def load_orgs(engine: Engine, practices: list[Practice]) -> int:
    """Insert or update every practice in one transaction."""
    if not practices:
        return 0
    rows = [p.__dict__ for p in practices]
    with engine.begin() as conn:
        stmt = dialect_insert(conn, organisations)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["practice_code"],
                set_={c.lower(): stmt.excluded[c.lower()] for c in COLUMNS[1:]},
            ),
            rows,
        )
    return len(rows)


def all_practices(bind: Engine | Connection) -> dict[str, Practice]:
    """Every practice by code (on the caller's connection when given one)."""
    if isinstance(bind, Connection):
        rows = bind.execute(select(organisations))
        return {r.practice_code: Practice(**r._mapping) for r in rows}
    with bind.connect() as conn:
        return all_practices(conn)


def places(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        q = select(organisations.c.place).distinct().order_by(organisations.c.place)
        return list(conn.execute(q).scalars())
