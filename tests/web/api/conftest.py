"""Fixtures of the JSON API's tests, on SQLite and PostgreSQL: a bearer token per role, the
referrals most tests read (`seeded`) and a PCN worklist to page through (`worklist`).
"""

from __future__ import annotations

import pytest
from api_helpers import HOME, NEIGHBOUR, NHS, THURROCK, bearer, post, row
from web_helpers import ACCOUNTS


@pytest.fixture
def tokens(engine):
    return {role: bearer(engine, role) for role in ACCOUNTS}




# The referrals most tests read: one per scope, a pathway id two providers share (both in
# the coordinator's scope), and one shared across scopes.
SEED = [
    ("API-1", HOME, "RAJ", NHS[0]),
    ("API-2", NEIGHBOUR, "RAJ", NHS[1]),
    ("API-3", THURROCK, "RAJ", NHS[2]),
    ("SHARED-1", HOME, "RAJ", NHS[3]),
    ("SHARED-1", NEIGHBOUR, "RQW", NHS[4]),
    ("SPLIT-1", HOME, "RAJ", NHS[5]),
    ("SPLIT-1", THURROCK, "RQW", NHS[6]),
]


@pytest.fixture
def seeded(client, tokens):
    for n, (pathway_id, practice, provider, nhs) in enumerate(SEED):
        post(client, tokens["admin"], row(nhs, pathway_id, practice, provider, waited=20 + n),
             expect=201)
    return client


@pytest.fixture
def worklist(client, tokens):
    """Seven referrals in U90001 (two practices), one in U90002, one in Thurrock."""
    admin = tokens["admin"]
    for n in range(7):
        practice = HOME if n % 2 == 0 else "Y90002"
        post(client, admin, row(NHS[n], f"WL-{n}", practice, waited=10 + 3 * n,
                                priority_type_code="2" if n == 3 else "1"), expect=201)
    post(client, admin, row(NHS[7], "WL-7", NEIGHBOUR), expect=201)
    post(client, admin, row(NHS[8], "WL-8", THURROCK), expect=201)
    return client

