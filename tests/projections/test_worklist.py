"""The projection runner and the PCN worklist, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import select, text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.domain import urgency
from guardian.projections import runner as runner_module
from guardian.projections import worklist as wl
from guardian.projections.registry import runner_for
from guardian.projections.tracking import PositionTaken, tracking
from guardian.waits import check_waits

AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_demo(guardian, patients=300, seed=5, as_of=AS_OF)
    yield guardian
    guardian.close()


def rows(app) -> list[tuple]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(wl.worklist).order_by(wl.worklist.c.provider, wl.worklist.c.pathway_id)
        )]


def open_pathways(app) -> int:
    patients = app.load_patients(
        uuid.UUID(h) for (h,) in app.engine.connect().execute(
            text("SELECT DISTINCT patient_id FROM pathway_index")
        )
    )
    return sum(1 for p in patients.values() for pw in p.pathways.values() if pw.is_open)


def test_catch_up_gives_one_row_per_open_pathway(app):
    runner = runner_for(app, batch_size=250)
    processed = runner.run_once()
    assert processed == runner.head() * len(runner.projections) > 0
    assert len(rows(app)) == open_pathways(app)
    assert runner.lag()["worklist"]["events_behind"] == 0
    assert runner.run_once() == 0  # nothing new


def test_a_new_event_updates_the_patients_rows(app):
    runner = runner_for(app)
    runner.run_once()
    with app.engine.connect() as conn:
        row = conn.execute(
            select(wl.worklist).where(wl.worklist.c.workup_outstanding == 0).limit(1)
        ).one()
    pid = uuid.UUID(row.patient_id)
    app.require_workup_item(pid, row.provider, row.pathway_id, "w-test", "Blood tests",
                            "practice", on=AS_OF)
    runner.run_once()
    with app.engine.connect() as conn:
        after = [r for r in wl.patient_rows(conn, pid) if r["pathway_id"] == row.pathway_id][0]
    assert after["workup_outstanding"] == 1 and after["stage"] == "awaiting-workup"
    app.stop_clock(pid, row.provider, row.pathway_id, "30", on=AS_OF)
    runner.run_once()
    with app.engine.connect() as conn:
        assert row.pathway_id not in [r["pathway_id"] for r in wl.patient_rows(conn, pid)]


def test_rows_and_position_commit_together(app, monkeypatch):
    runner = runner_for(app, batch_size=100)
    real_replace = runner_module.replace_rows
    calls = {"n": 0}

    def failing_replace(conn, tables, changes):
        real_replace(conn, tables, changes)  # rows written in the transaction …
        if tables[0].name == wl.worklist.name:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("crash after writing rows")  # … then it fails

    monkeypatch.setattr(runner_module, "replace_rows", failing_replace)
    with pytest.raises(RuntimeError):
        runner.run_once()
    assert runner.position("worklist") == _id_after(app, 200)
    monkeypatch.setattr(runner_module, "replace_rows", real_replace)
    runner.run_once()
    resumed = rows(app)
    assert len(resumed) == open_pathways(app)
    runner.rebuild()
    assert rows(app) == resumed


def _id_after(app, n: int) -> int:
    return app.recorder.select_notifications(start=1, limit=n)[-1].id


def test_a_runner_that_lost_the_race_rolls_back_and_reads_on(app, monkeypatch):
    first, second = runner_for(app, batch_size=200), runner_for(app, batch_size=200)
    first.run_once()
    done = rows(app)
    real_position = second.position
    stale = {"once": True}

    def position(name):  # the second runner read its position before the first advanced
        if stale.pop("once", False):
            return 0
        return real_position(name)

    monkeypatch.setattr(second, "position", position)
    taken = []
    real_advance = second.positions.advance

    def advance(conn, name, old, new):
        try:
            real_advance(conn, name, old, new)
        except PositionTaken:
            taken.append(old)
            raise

    monkeypatch.setattr(second.positions, "advance", advance)
    assert second.run_once() == 0
    assert taken == [0]
    assert rows(app) == done


def test_rebuild_reaches_the_same_rows(app):
    runner = runner_for(app, batch_size=300)
    runner.run_once()
    before = rows(app)
    runner.rebuild()
    assert rows(app) == before
    with app.engine.connect() as conn:
        names = [r.name for r in conn.execute(select(tracking))]
    assert sorted(names) == ["bottlenecks", "patient_search", "worklist"]  # no "@rebuild"
    runner.rebuild()  # twice: index and constraint names survive the swap
    assert rows(app) == before


def test_an_event_this_version_cannot_read_is_skipped_with_a_warning(app, caplog):
    runner = runner_for(app)
    runner.run_once()
    with app.engine.connect() as conn:
        victim = conn.execute(select(wl.worklist.c.patient_id).limit(1)).scalar_one()
    pid = uuid.UUID(victim)
    version = app.repository.get(pid).version
    from eventsourcing.persistence import StoredEvent

    app.recorder.insert_events(
        [StoredEvent(pid, version + 1, "guardian.Patient.FromTheFuture", b"{}")]
    )
    with caplog.at_level("WARNING"):
        assert runner.run_once() == len(runner.projections)  # one event, each read model
    assert "FromTheFuture" in caplog.text
    assert runner.lag()["worklist"]["events_behind"] == 0


def test_a_skipped_event_moves_the_position_without_loading_its_patient(app, monkeypatch):
    runner = runner_for(app)
    runner.run_once()
    built: dict[str, list[uuid.UUID]] = {}
    for projection in runner.projections:
        def rows(app, patients, orgs, real=projection.rows, name=projection.name):
            built[name] = [p.id for p in patients]
            return real(app, patients, orgs)

        monkeypatch.setattr(projection, "rows", rows)
    with app.engine.connect() as conn:
        pids = [uuid.UUID(v) for v in conn.exec_driver_sql(
            "SELECT DISTINCT patient_id FROM worklist ORDER BY patient_id").scalars()]
    patients = app.load_patients(pids)
    pid, (provider, pathway_id) = next(  # a pathway whose clock runs takes a workup item
        (pid, key) for pid in pids for key, p in patients[pid].pathways.items()
        if p.closed_on is None and p.clock_end is None)

    app.log_contact(pid, "c-test", "phone", "Rang about the wait", by="coordinator",
                    on=AS_OF)  # the worklist's last contact; nothing of the others'
    assert runner.run_once() == 3
    assert built == {"worklist": [pid], "bottlenecks": [], "patient_search": []}
    app.offer_support(pid, "s-test", "weight-management", on=AS_OF)  # neither's
    assert runner.run_once() == 3
    assert built == {"worklist": [], "bottlenecks": [], "patient_search": []}
    app.require_workup_item(pid, provider, pathway_id, "w-test", "Bloods", "practice",
                            on=AS_OF)  # both's
    assert runner.run_once() == 3
    assert built == {"worklist": [pid], "bottlenecks": [pid], "patient_search": [pid]}
    assert {runner.position(p.name) for p in runner.projections} == {runner.head()}


def test_worklist_pages_are_scoped_filtered_and_keyset_paged(app):
    runner_for(app).run_once()
    with app.engine.connect() as conn:
        pcn = conn.execute(
            text("SELECT pcn_code FROM worklist GROUP BY pcn_code ORDER BY count(*) DESC")
        ).scalars().first()
        everyone = wl.Scope(None)
        full = wl.page(conn, everyone, pcn, AS_OF, sort="next-deadline", limit=10_000)
        assert full and all(r["pcn_code"] == pcn for r in full)
        keys = [(r["deadline_sort"], r["provider"], r["pathway_id"]) for r in full]
        assert keys == sorted(keys)
        for sort in wl.SORTS:
            whole = wl.page(conn, everyone, pcn, AS_OF, sort=sort, limit=10_000)
            paged, after = [], None
            while part := wl.page(conn, everyone, pcn, AS_OF, sort=sort, after=after, limit=7):
                paged += part
                after = wl.position_after(sort, part[-1])
            assert paged == whole, sort
            # and back again, a page before each position (the "previous page" link)
            back, before = [], wl.position_after(sort, whole[-1])
            while part := wl.page(conn, everyone, pcn, AS_OF, sort=sort, before=before,
                                  limit=7):
                back = part + back
                before = wl.position_after(sort, part[0])
            assert back == whole[:-1], sort
        assert wl.page(conn, wl.Scope(frozenset({"U00000"})), pcn, AS_OF) == []
        breached = wl.page(conn, everyone, pcn, AS_OF, ["breached"], limit=10_000)
        assert all(r["next_breach_on"] <= AS_OF for r in breached)
        at_risk = wl.page(conn, everyone, pcn, AS_OF, ["at-risk"], limit=10_000)
        assert all(r["next_at_risk_from"] <= AS_OF < r["next_breach_on"] for r in at_risk)
        waits = wl.page(conn, everyone, pcn, AS_OF, sort="days-waiting", limit=10_000)
        assert [r["wait_from"] for r in waits] == sorted(r["wait_from"] for r in waits)
        with pytest.raises(ValueError, match="unknown filter"):
            wl.page(conn, everyone, pcn, AS_OF, ["nonsense"])


def test_each_user_gets_their_own_assigned_and_unassigned_rows(app):
    """Pages share built statements between users, except where a filter reads the user
    (assigned to me) or the departed coordinators (unassigned): asked in turn in one
    process, each view is that user's own."""
    runner_for(app).run_once()
    w = wl.worklist
    with app.engine.connect() as conn:
        pcn, a, b = conn.execute(text(
            "SELECT pcn_code, min(coordinator), max(coordinator) FROM worklist "
            "WHERE coordinator IS NOT NULL GROUP BY pcn_code "
            "HAVING count(DISTINCT coordinator) > 1")).first()
        mine = {who: {r["pathway_id"] for r in wl.page(
            conn, wl.Scope(None, who), pcn, AS_OF, ["assigned-to-me"], "urgency", limit=10_000)}
            for who in (a, b, a)}
        expected = {who: set(conn.execute(select(w.c.pathway_id).where(
            w.c.pcn_code == pcn, w.c.coordinator == who)).scalars()) for who in (a, b)}
        unassigned = {gone: {r["pathway_id"] for r in wl.page(
            conn, wl.Scope(None, a, gone), pcn, AS_OF, ["unassigned"], limit=10_000)}
            for gone in (frozenset(), frozenset({b}))}
    assert mine == expected and expected[a] and expected[b] and not expected[a] & expected[b]
    assert unassigned[frozenset({b})] == unassigned[frozenset()] | expected[b]


@pytest.mark.slow
def test_a_killed_projector_process_resumes_without_gaps_or_duplicates(database_url, tmp_path):
    app = build_app(Settings(database_url=database_url))
    init_database(app)
    load_demo(app, patients=3000, seed=9, as_of=AS_OF)
    env = {**os.environ, "GUARDIAN_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "guardian.cli", "project", "--json"]
    runner = runner_for(app)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and runner.position("worklist") == 0:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < runner.position("worklist") < runner.head(), "the kill should land mid-way"
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    assert runner.position("worklist") == runner.head()
    resumed = rows(app)
    runner.rebuild()
    assert rows(app) == resumed
    app.close()


def order_key(sort: str, row: dict) -> tuple:
    """The row's place in `sort` order, in Python: the urgency order by its definition
    (guardian/domain/urgency.py), the others by their column."""
    if sort == "urgency":
        return urgency.urgency(row["news_on"], row["priority"], row["next_at_risk_from"],
                               row["next_breach_on"], row["next_deadline"], AS_OF)
    return (row["deadline_sort" if sort == "next-deadline" else "wait_from"],)


@pytest.mark.parametrize("sort", wl.SORTS)
def test_several_pcns_page_as_one_list(app, sort):
    """Pages over several PCNs equal one ordered list of them all, in the order the sort
    defines: for the urgency order, the SQL orders as guardian/domain/urgency.py does."""
    runner_for(app).run_once()
    check_waits(app, AS_OF)  # breaches: the urgency order's new and breached tiers
    runner_for(app).run_once()
    with app.engine.connect() as conn:
        pcns = sorted({r.pcn_code for r in conn.execute(select(wl.worklist.c.pcn_code))
                       if r.pcn_code})[:3]
        scope = wl.Scope(frozenset(pcns))
        everything = sorted(
            (dict(r._mapping) for r in conn.execute(
                select(wl.worklist).where(wl.worklist.c.pcn_code.in_(pcns)))),
            key=lambda r: (*order_key(sort, r), r["provider"], r["pathway_id"]))
        seen, after = [], None
        while rows := wl.page(conn, scope, None, AS_OF, (), sort, after, limit=7):
            seen += rows
            after = wl.position_after(sort, rows[-1])
    assert len(pcns) > 1
    if sort == "urgency":  # tiers of the demo (every boundary: test_urgency_order.py)
        assert len({order_key(sort, r)[0] for r in everything}) >= 3
    assert [(r["provider"], r["pathway_id"]) for r in seen] == [
        (r["provider"], r["pathway_id"]) for r in everything]


def test_runners_catching_up_at_once_never_write_a_row_twice(app):
    """Web requests catch up side by side (docs/deployment.md): each batch is written by
    one runner; the others find its position taken and read on, never a duplicate row."""
    import threading

    runner_for(app).run_once()
    with app.engine.connect() as conn:
        pids = [uuid.UUID(h) for h in conn.execute(
            select(wl.worklist.c.patient_id).distinct().limit(40)).scalars()]
    for n, pid in enumerate(pids):
        app.log_contact(pid, f"c-race-{n}", "phone", "Rang", by="coordinator", on=AS_OF)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def catch_up() -> None:
        try:
            start.wait()
            runner_for(app, batch_size=3).run_once()
        except BaseException as e:  # noqa: BLE001 - any failure fails the test
            errors.append(e)

    threads = [threading.Thread(target=catch_up) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runner = runner_for(app)
    assert {runner.position(p.name) for p in runner.projections} == {runner.head()}
    resumed = rows(app)
    runner.rebuild()
    assert rows(app) == resumed


def test_a_large_catch_up_leaves_the_planner_statistics_of_what_it_wrote(app, monkeypatch):
    """On PostgreSQL the tables a large catch-up filled are analysed (reltuples known), so
    they are read along their indexes even where autovacuum has not run yet."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    monkeypatch.setattr(runner_module, "ANALYZE_AFTER", 1)
    runner = runner_for(app)
    runner.run_once()
    with app.engine.connect() as conn:
        counted = dict(conn.exec_driver_sql(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN "
            "('worklist', 'patient_search', 'pathway_intervals')").all())
    assert set(counted) == {"worklist", "patient_search", "pathway_intervals"}
    assert all(n > 0 for n in counted.values()), counted
