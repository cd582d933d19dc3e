"""A `guardian serve` worker readies itself before it takes its first request
(docs/deployment.md, "Starting"): every page template compiled, the first database
connection open and the names every page shows read. Without it the first page of each
kind pays for that itself (a first worklist 98–111 ms against 70 ms: docs/deployment.md).

A database that does not answer yet does not stop the worker starting (the warm-up is an
optimisation; /healthz says what is wrong). Switched off by GUARDIAN_WEB_WARM_UP=false
(the test suite makes hundreds of apps, each of which compiles only the templates it
renders).
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any

from guardian.web.names import names_of

log = logging.getLogger("guardian.web")


def warm_up(app: Any, templates: Any) -> dict[str, float]:
    """Compile every template and read the names through the worker's own cache; how many
    templates and how long it took."""
    started = time.perf_counter()
    env = templates.env
    compiled = 0
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
        compiled += 1
    try:
        names_of(SimpleNamespace(app=app))  # opens the pool's first connection too
    except Exception:  # the database is not answering yet: the first page will read them
        log.warning("web worker warm-up: the names could not be read", exc_info=True)
    seconds = time.perf_counter() - started
    log.info("web worker warmed up: %s templates compiled, names read, in %.2f s",
             compiled, seconds)
    return {"templates": compiled, "seconds": seconds}
