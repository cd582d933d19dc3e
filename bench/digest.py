"""Benchmark: the practices' weekly digest (docs/notifications.md "Weekly digest") for every
practice of a store.

    .venv/bin/python bench/digest.py --url postgresql+psycopg2://…/guardian   # a given store
    .venv/bin/python bench/digest.py --patients 2000 [--backend postgresql]   # a demo store

On one connection, inside a transaction that is rolled back at the end (the store is left
as it was): every practice with an open pathway is given an e-mail address that takes the
digest, then `queue_weekly_digests` is timed whole (every measure's grouped query, each
practice's content, the rows inserted), then each queued digest is made into the e-mail
that goes (`compose`, its MIME bytes; "render"). Same-run baselines, each timed on the same
connection: **count**, a plain `SELECT practice_code, count(*) FROM worklist GROUP BY
practice_code`; and **per practice**, the one-query-per-practice way (the waiting and
breach measures only, filtered by practice) on `--sample` practices, scaled to all of them.
Target: queued and rendered under 60 s for every practice on the 200,000-pathway store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select  # noqa: E402

from guardian.bootstrap import build_app, init_database  # noqa: E402
from guardian.config import Settings  # noqa: E402
from guardian.notifications.digests import digest_week_ending, queue_weekly_digests  # noqa: E402
from guardian.notifications.schema import org_contacts  # noqa: E402
from guardian.projections.bottlenecks.model import breach_facts  # noqa: E402
from guardian.projections.worklist import worklist  # noqa: E402
from guardian.store import pathway_index  # noqa: E402

TARGET_SECONDS = 60.0


def timed(work):
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def per_practice(conn, codes: list[str], first: dt.date, last: dt.date) -> None:
    """The way not taken: the waiting and breach measures, one query each per practice."""
    w, b = worklist, breach_facts
    for code in codes:
        conn.execute(select(w.c.treatment_function, func.count())
                     .where(w.c.practice_code == code)
                     .group_by(w.c.treatment_function)).all()
        conn.execute(select(b.c.treatment_function, func.count())
                     .where(b.c.practice_code == code, b.c.breach_on >= first,
                            b.c.breach_on <= last)
                     .group_by(b.c.treatment_function)).all()


def render_digests(app, conn) -> int:
    """Every queued weekly digest composed into the e-mail the dispatcher sends (compose.py,
    then its MIME bytes); how many."""
    from guardian.notifications.channels.email import mime_bytes
    from guardian.notifications.checks import Checks
    from guardian.notifications.compose import compose
    from guardian.notifications.schema import QUEUED, notifications

    world = Checks(app).world()
    n = notifications
    rows = conn.execute(select(n).where(n.c.kind == "weekly-digest", n.c.status == QUEUED))
    done = 0
    for row in rows:
        message = compose(row, None, world, "bench@nhs.example", json.loads(row.context))
        mime_bytes(message, app.settings.mail_from, row.key)
        done += 1
    return done


def bench(app, sample: int) -> dict:
    week = digest_week_ending(app.now(), app.settings.zone)
    first, last = week - dt.timedelta(days=7), week - dt.timedelta(days=1)
    with app.engine.connect() as conn:
        trans = conn.begin()
        try:
            codes = sorted(conn.execute(select(worklist.c.practice_code).distinct()).scalars())
            pathways = conn.execute(select(func.count()).select_from(pathway_index)).scalar()
            have = set(conn.execute(select(org_contacts.c.code)).scalars())
            conn.execute(org_contacts.update().values(email="bench@nhs.example",
                                                      weekly_digest=True))
            new = [{"code": c, "kind": "practice", "email": f"{c.lower()}@nhs.example",
                    "weekly_digest": True} for c in codes if c not in have]
            if new:
                conn.execute(insert(org_contacts), new)
            count_s, _ = timed(lambda: conn.execute(
                select(worklist.c.practice_code, func.count())
                .group_by(worklist.c.practice_code)).all())
            digest_s, rows = timed(lambda: queue_weekly_digests(app, conn, week))
            render_s, rendered = timed(lambda: render_digests(app, conn))
            sampled = codes[:sample]
            one_s, _ = timed(lambda: per_practice(conn, sampled, first, last))
            per_practice_s = one_s / max(1, len(sampled)) * len(codes)
        finally:
            trans.rollback()
    return {
        "backend": app.engine.dialect.name, "week_ending": week.isoformat(),
        "pathways": pathways, "practices": len(codes), "digests": rows,
        "digest_seconds": round(digest_s, 3),
        # each queued digest made into the e-mail that goes (text and HTML, as bytes)
        "rendered": rendered, "render_seconds": round(render_s, 3),
        "digest_and_render_seconds": round(digest_s + render_s, 3),
        "count_seconds": round(count_s, 3),
        "ratio_to_count": round(digest_s / count_s, 1) if count_s else None,
        "per_practice_seconds_scaled": round(per_practice_s, 3),
        "per_practice_sampled": len(sampled),
        "ratio_to_per_practice": round(digest_s / per_practice_s, 2) if per_practice_s else None,
        "target_met": digest_s + render_s < TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the store to read (left as it was)")
    parser.add_argument("--patients", type=int, default=2000,
                        help="without --url: the size of a demo store built for the run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="without --url: where the demo store is built")
    parser.add_argument("--sample", type=int, default=20,
                        help="practices timed the one-query-per-practice way")
    args = parser.parse_args(argv)
    drop = None
    url = args.url
    built = None
    if url is None:
        from guardian.demo import load_demo
        from guardian.waits import check_waits

        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'guardian.sqlite'}"
        else:
            from import_ptl import fresh_postgres

            url, _dsn, drop = fresh_postgres()
    try:
        app = build_app(Settings(database_url=url))
        if args.url is None:
            init_database(app)
            built, _ = timed(lambda: load_demo(app, patients=args.patients, seed=20221))
            check_waits(app, app.today())
        result = bench(app, args.sample)
        if built is not None:
            result.update(patients=args.patients, store_built_seconds=round(built, 1))
        app.close()
    finally:
        if drop is not None:
            drop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
