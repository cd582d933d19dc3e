"""People and places by name: `Names`, the words a person reads for a provider, practice,
PCN or treatment function code and for a user's e-mail address, and `load_names`, which
reads them from the organisation reference, the providers' names and the accounts in one
connection (the web keeps them for a short while: guardian/web/names.py); and, for the
audit log, patients' names and referrals' treatment functions from the worklist read model
(`patients_named`, `treatment_functions_of`).

An unknown code reads as the code itself and an unknown e-mail address as itself, never an
error. The "coded" forms, "Name (CODE)", are for where the code helps the reader (a
practice list, a facet choice); a code without a name stays alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from guardian import users
from guardian.domain import codes
from guardian.projections.worklist import worklist
from guardian.store import organisations, providers

_CODE = re.compile(r"(?<![\w@.-])[A-Z0-9]{3,6}(?![\w-])")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def _coded(names: Mapping[str, str], code: str | None) -> str:
    if not code:
        return ""
    name = names.get(code)
    return f"{name} ({code})" if name else code


@dataclass(frozen=True)
class Names:
    """Names by code (and people's by e-mail); each lookup falls back to what it was given."""

    providers: Mapping[str, str] = field(default_factory=dict)
    practices: Mapping[str, str] = field(default_factory=dict)
    pcns: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)

    def provider(self, code: str | None) -> str:
        return self.providers.get(code, code) if code else ""

    def practice(self, code: str | None) -> str:
        return self.practices.get(code, code) if code else ""

    def pcn(self, code: str | None) -> str:
        return self.pcns.get(code, code) if code else ""

    def provider_coded(self, code: str | None) -> str:
        return _coded(self.providers, code)

    def practice_coded(self, code: str | None) -> str:
        return _coded(self.practices, code)

    def pcn_coded(self, code: str | None) -> str:
        return _coded(self.pcns, code)

    @staticmethod
    def treatment_function(code: str | None) -> str:
        return codes.TREATMENT_FUNCTIONS.get(code, code) if code else ""

    def person(self, email: str | None) -> str:
        """A user's display name; an address that is no user's reads as itself."""
        if not email:
            return ""
        return self.people.get(email.strip().lower(), email)

    def annotate(self, text: str | None) -> str:
        """Free text (an audit entry's detail) with each known provider, practice or PCN
        code written as "Name (CODE)" and each user's e-mail address as their name."""
        if not text:
            return ""

        def coded(m: re.Match[str]) -> str:
            code = m.group(0)
            name = self.practices.get(code) or self.pcns.get(code) or self.providers.get(code)
            return f"{name} ({code})" if name else code

        text = _EMAIL.sub(lambda m: self.person(m.group(0)), text)
        return _CODE.sub(coded, text)


NO_NAMES = Names()  # every code reads as itself


def load_names(conn: Connection) -> Names:
    """Every provider, practice, PCN and user name (a few hundred rows)."""
    o = organisations
    practices, pcns = {}, {}
    for practice, practice_name, pcn, pcn_name in conn.execute(
            select(o.c.practice_code, o.c.practice_name, o.c.pcn_code, o.c.pcn_name)):
        practices[practice] = practice_name
        pcns[pcn] = pcn_name
    found = {code: name for code, name in conn.execute(
        select(providers.c.provider_code, providers.c.provider_name))}
    return Names(providers=found, practices=practices, pcns=pcns,
                 people=users.display_names(conn))


@dataclass(frozen=True)
class NamedPatient:
    given_name: str
    family_name: str
    nhs_number: str


def patients_named(conn: Connection, patient_ids: Iterable[str]
                   ) -> dict[str, NamedPatient]:
    """Patient id (hex) → name and NHS number, from the worklist read model (a patient it
    does not hold is left out)."""
    w = worklist
    found: dict[str, NamedPatient] = {}
    for pid, given, family, nhs in conn.execute(
            select(w.c.patient_id, w.c.given_name, w.c.family_name, w.c.nhs_number)
            .where(w.c.patient_id.in_(sorted(set(patient_ids))))):
        found.setdefault(pid, NamedPatient(given or "", family or "", nhs))
    return found


def treatment_functions_of(conn: Connection, keys: Iterable[tuple[str, str]]
                           ) -> dict[tuple[str, str], str]:
    """(provider, pathway id) → treatment function code, for the pathways the worklist
    read model holds."""
    wanted = set(keys)
    w = worklist
    q = select(w.c.provider, w.c.pathway_id, w.c.treatment_function).where(
        w.c.pathway_id.in_(sorted({pathway for _, pathway in wanted})))
    return {(provider, pathway): tf for provider, pathway, tf in conn.execute(q)
            if (provider, pathway) in wanted}
