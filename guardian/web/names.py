"""People and places by name on every page and in the API: the app's `Names`
(guardian/projections/name_queries.py), read once and reused for `NAMES_TTL` seconds
(organisations and accounts change rarely; each worker process keeps its own copy, so a
change shows everywhere within that time), and the Jinja filters over them:

    {{ row.provider | provider_name }}          Mid and South Essex NHS Foundation Trust
    {{ code | practice_coded }}                 Synthetic Kingswood Surgery (demo) (Y90004)
    {{ code | pcn_name }}, {{ code | pcn_coded }}, {{ code | tf_name }}
    {{ entry.user_email | person_name }}        the user's display name

An unknown code reads as the code, never an error. A route or API endpoint takes
`NamesDep`; templates need nothing (the filters find the app through the request).
`with_names` puts each name beside its code in an answer of the JSON API (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment, pass_context

from guardian.projections.name_queries import Names, load_names
from guardian.web.caches import TimedCache

NAMES_TTL = 30.0  # seconds a worker reuses the names it read


def names_of(request: Request) -> Names:
    """The app's names, read again when older than NAMES_TTL."""
    state = request.app.state
    cache = getattr(state, "names_cache", None)
    if cache is None:
        cache = state.names_cache = TimedCache(ttl=NAMES_TTL, size=4)

    def read() -> Names:
        with state.guardian.engine.connect() as conn:
            return load_names(conn)

    return cache.get("names", read)


def forget_names(request: Request) -> None:
    """This worker reads the names again on its next use: after an admin added or renamed
    someone here, the pages this worker serves name them at once (other workers within
    NAMES_TTL)."""
    request.app.state.names_cache = None


async def names_dependency(request: Request) -> Names:
    return names_of(request)


NamesDep = Annotated[Names, Depends(names_dependency)]

# filter name → the Names method it applies
FILTERS = {
    "provider_name": "provider", "provider_coded": "provider_coded",
    "practice_name": "practice", "practice_coded": "practice_coded",
    "pcn_name": "pcn", "pcn_coded": "pcn_coded",
    "tf_name": "treatment_function", "person_name": "person",
}


def _filter(method: str) -> Any:
    @pass_context
    def apply(context: Any, value: Any) -> str:
        request = context.get("request")
        if value is None:
            return ""
        if request is None:
            return str(value)
        try:
            names = names_of(request)
        except Exception:  # e.g. the database is down while rendering the error page
            return str(value)
        return getattr(names, method)(str(value))

    return apply


def register(env: Environment) -> None:
    """The name filters (FILTERS)."""
    for name, method in FILTERS.items():
        env.filters[name] = _filter(method)


# A code's key in an API answer → the key of its name beside it (docs/api.md).
NAME_KEYS = {"provider": ("provider_name", "provider"),
             "practice_code": ("practice_name", "practice"),
             "pcn_code": ("pcn_name", "pcn"),
             "treatment_function": ("treatment_function_name", "treatment_function")}


def with_names(value: Any, names: Names) -> Any:
    """`value` (dicts and lists, recursively) with the name beside every provider,
    practice, PCN and treatment function code that has none yet; a null code gets a null
    name."""
    if isinstance(value, list):
        return [with_names(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: with_names(v, names) for k, v in value.items()}
    for key, (name_key, method) in NAME_KEYS.items():
        if key in out and name_key not in out and (out[key] is None or isinstance(out[key], str)):
            out[name_key] = getattr(names, method)(out[key]) if out[key] else None
    return out
