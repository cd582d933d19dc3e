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
