"""`guardian db init` on an existing database brings its indexes up to date."""

from __future__ import annotations

from sqlalchemy import inspect, text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings


def test_init_creates_an_index_a_newer_version_added(database_url, tmp_path):
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    try:
        init_database(app)
        name = "worklist_pcn_deterioration_wait"
        with app.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {name}"))  # as a database made before it existed
        assert name not in {i["name"] for i in inspect(app.engine).get_indexes("worklist")}
        init_database(app)
        assert name in {i["name"] for i in inspect(app.engine).get_indexes("worklist")}
        init_database(app)  # and again: nothing to do, no error
    finally:
        app.close()


def test_init_adds_the_account_columns_a_newer_version_added(database_url, tmp_path):
    """A database made before accounts could be disabled, had names, and tokens expired:
    `db init` adds the columns, keeps every user enabled, and gives old tokens an expiry."""
    import datetime as dt

    from guardian import users

    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    try:
        init_database(app)
        made = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        with app.engine.begin() as conn:
            for table, column in (("users", "disabled"), ("users", "last_sign_in_at"),
                                  ("users", "display_name"), ("api_tokens", "expires_at")):
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            conn.execute(text("DROP TABLE sign_in_failures"))
            conn.execute(text(
                "INSERT INTO users (email, role, orgs, password_hash, failed_attempts, "
                "created_at) VALUES ('old@example.test', 'admin', '[]', :hash, 0, :made)"),
                {"hash": users.hash_password("an old passphrase"), "made": made})
            conn.execute(text(
                "INSERT INTO api_tokens (token_hash, user_id, created_at, revoked) SELECT "
                ":hash, id, :made, false FROM users"),
                {"hash": users.digest("gdn_old-token"), "made": made})
        init_database(app)
        columns = {c["name"] for c in inspect(app.engine).get_columns("users")}
        assert {"disabled", "last_sign_in_at", "display_name"} <= columns
        assert "sign_in_failures" in inspect(app.engine).get_table_names()
        [account] = users.accounts(app.engine)
        assert account.enabled and account.tokens == 1
        assert users.display_names(app.engine) == {"old@example.test": "Old"}  # no name yet
        assert users.user_for_token(app.engine, "gdn_old-token").email == "old@example.test"
        assert users.authenticate(app.engine, "old@example.test", "an old passphrase"
                                  ).outcome == "ok"
        later = made + dt.timedelta(days=users.TOKEN_DAYS, seconds=1)
        assert users.user_for_token(app.engine, "gdn_old-token", now=later) is None
        init_database(app)  # and again: nothing to do, no error
    finally:
        app.close()


def test_init_resets_a_read_model_made_by_an_earlier_version_of_it(database_url, tmp_path):
    """Rows of a kind an earlier version did not make: `db init` drops the read model (and
    its position), the runner rebuilds it from the events, and a second init keeps it."""
    from guardian.demo import load_demo
    from guardian.projections.registry import runner_for

    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    try:
        init_database(app)
        load_demo(app, patients=30, seed=4)
        runner_for(app).run_once()
        count = "SELECT COUNT(*) FROM pathway_intervals"
        with app.engine.begin() as conn:
            full = conn.execute(text(count)).scalar()
            # as a database whose bottlenecks were made by version 1
            conn.execute(text("DELETE FROM pathway_intervals WHERE kind = 'gp-message'"))
            conn.execute(text("UPDATE guardian_meta SET value = '1' "
                              "WHERE key = 'read-model-version:bottlenecks'"))
        init_database(app)
        assert runner_for(app).position("bottlenecks") == 0
        assert runner_for(app).position("worklist") > 0  # the others are kept
        runner_for(app).run_once()
        with app.engine.connect() as conn:
            assert conn.execute(text(count)).scalar() == full
        init_database(app)
        assert runner_for(app).position("bottlenecks") > 0
    finally:
        app.close()
