"""The organisation reference (`guardian orgs load`): practice → PCN → place, with each
practice's and PCN's name, and the hospital providers' names by ODS code.

Two files load with the same command, told apart by their header (docs/formats.md): the
practice file (`PRACTICE_CODE,PRACTICE_NAME,PCN_CODE,PCN_NAME,PLACE`) and the providers file
(`PROVIDER_CODE,PROVIDER_NAME`). Either is checked whole before anything is written: one
bad row refuses the file. The package ships the providers file of the NHS trusts that serve
Mid and South Essex (`PROVIDERS_FILE`); `guardian db init` adds the names it does not yet
have, and `guardian demo` loads it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import (
    normalise_pcn_code,
    normalise_practice_code,
    normalise_provider_code,
)
from guardian.store import dialect_insert, organisations, providers

COLUMNS = ("PRACTICE_CODE", "PRACTICE_NAME", "PCN_CODE", "PCN_NAME", "PLACE")
PROVIDER_COLUMNS = ("PROVIDER_CODE", "PROVIDER_NAME")
# The real ODS names of the trusts that serve Mid and South Essex patients, and neighbours.
PROVIDERS_FILE = Path(__file__).parent / "data" / "providers.csv"


class OrgFileError(Exception):
    """The organisation file cannot be loaded; nothing was written."""


@dataclass(frozen=True)
class Practice:
    practice_code: str
    practice_name: str
    pcn_code: str
    pcn_name: str
    place: str


@dataclass(frozen=True)
class Provider:
    provider_code: str
    provider_name: str


Row = TypeVar("Row", Practice, Provider)


def is_providers_file(path: Path) -> bool:
    """Whether the file's header names PROVIDER_CODE (a providers file) rather than the
    practice file's columns; an unreadable file is read (and refused) as a practice file."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None) or []
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "PROVIDER_CODE" in {h.strip().upper() for h in header}


def read_org_file(path: Path) -> list[Practice]:
    """Parse and check the whole practice file first: one bad row refuses the file."""
    def practice(value: Callable[[str], str]) -> Practice:
        return Practice(
            practice_code=normalise_practice_code(value("PRACTICE_CODE")),
            practice_name=_required(value("PRACTICE_NAME"), "PRACTICE_NAME"),
            pcn_code=normalise_pcn_code(value("PCN_CODE")),
            pcn_name=_required(value("PCN_NAME"), "PCN_NAME"),
            place=_required(value("PLACE"), "PLACE"),
        )

    return _read(path, COLUMNS, practice, lambda p: ("practice", p.practice_code))


def read_providers_file(path: Path) -> list[Provider]:
    """Parse and check the whole providers file first: one bad row refuses the file."""
    def provider(value: Callable[[str], str]) -> Provider:
        return Provider(
            provider_code=normalise_provider_code(value("PROVIDER_CODE")),
            provider_name=_required(value("PROVIDER_NAME"), "PROVIDER_NAME"),
        )

    return _read(path, PROVIDER_COLUMNS, provider, lambda p: ("provider", p.provider_code))


def _read(path: Path, columns: tuple[str, ...], make: Callable[[Callable[[str], str]], Row],
          key: Callable[[Row], tuple[str, str]]) -> list[Row]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise OrgFileError(f"{path}: the file is empty (no header row)")
            names = [h.strip().upper() for h in header]
            missing = [c for c in columns if c not in names]
            if missing:
                raise OrgFileError(f"{path}: missing column(s) {', '.join(missing)}")
            idx = {c: names.index(c) for c in columns}
            found: dict[str, Row] = {}
            problems: list[str] = []
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(names):
                    problems.append(f"line {line}: {len(values)} fields, header has {len(names)}")
                    continue
                try:
                    row = make(lambda c, values=values: values[idx[c]])
                except InvalidValue as e:
                    problems.append(f"line {line}: {e.message}")
                    continue
                kind, code = key(row)
                if code in found:
                    problems.append(f"line {line}: {kind} {code} appears twice")
                found[code] = row
    except UnicodeDecodeError:
        raise OrgFileError(f"{path}: not UTF-8 text") from None
    except csv.Error as e:
        raise OrgFileError(f"{path}: not a readable CSV file ({e})") from None
    except OSError as e:
        raise OrgFileError(f"{path}: cannot read the file ({e.strerror})") from None
    if problems:
        raise OrgFileError(f"{path}: nothing loaded; " + "; ".join(problems[:20]))
    return list(found.values())


def _required(value: str, column: str) -> str:
    v = value.strip()
    if not v:
        raise InvalidValue(f"{column} is empty", field=column)
    return v


def load_orgs(engine: Engine, practices: list[Practice]) -> int:
    """Insert or update every practice in one transaction."""
    return _upsert(engine, organisations, "practice_code",
                   [p.__dict__ for p in practices], update=True)


def load_providers(engine: Engine, found: list[Provider], *, update: bool = True) -> int:
    """Insert every provider's name in one transaction, updating a name already recorded
    (or, with `update=False`, keeping it: `guardian db init` only adds missing names)."""
    return _upsert(engine, providers, "provider_code", [p.__dict__ for p in found],
                   update=update)


def _upsert(engine: Engine, table: Any, key: str, rows: list[dict[str, str]], *,
            update: bool) -> int:
    if not rows:
        return 0
    with engine.begin() as conn:
        stmt = dialect_insert(conn, table)
        if update:
            stmt = stmt.on_conflict_do_update(
                index_elements=[key],
                set_={c: stmt.excluded[c] for c in rows[0] if c != key},
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=[key])
        conn.execute(stmt, rows)
    return len(rows)


def add_shipped_providers(engine: Engine) -> int:
    """The shipped providers' names that the database does not have yet (`db init`)."""
    return load_providers(engine, read_providers_file(PROVIDERS_FILE), update=False)


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
