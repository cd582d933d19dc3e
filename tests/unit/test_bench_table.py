"""bench/run_all.py's table: written between its markers, failures shown, every script known.

No benchmark runs here: the table writer and the spec are checked on made-up outcomes
(bench/README.md, "Every benchmark, one table"; sizing: docs/sizing.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.one_backend


def _run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run_all = _run_all()
TODAY = "2026-12-05"


def test_every_bench_script_has_a_spec():
    scripts = {p.stem for p in BENCH.glob("*.py")} - run_all.NOT_BENCHMARKS
    assert scripts - set(run_all.SPECS) == set(), "add these to SPECS in bench/run_all.py"
    assert set(run_all.SPECS) - scripts == set(), "SPECS names a script that is gone"
    assert set(run_all.discover()) == scripts


def test_markers_replaced_and_the_rest_untouched():
    readme = ("# Benchmarks\n\nIntro.\n\n" + run_all.START + "\nold table\n" + run_all.END
              + "\n\n## Import\n\nOther helper's text | with | pipes.\n")
    rows = run_all.rows_for("digest", run_all.SPECS["digest"], {"": {
        "status": "ok", "command": "python bench/digest.py",
        "data": {"digest_and_render_seconds": 0.27, "count_seconds": 0.04}}}, TODAY)
    out = run_all.write_table(readme, rows, TODAY)
    assert "old table" not in out
    assert out.count(run_all.START) == out.count(run_all.END) == 1
    before, rest = out.split(run_all.START)
    assert before == "# Benchmarks\n\nIntro.\n\n"
    assert rest.split(run_all.END)[1] == "\n\n## Import\n\nOther helper's text | with | pipes.\n"
    line = next(x for x in out.splitlines() if x.startswith("| digest"))
    assert "| 0.27 | < 60 | 0.04 | ×6.75 | yes | 2026-12-05 (rerun today) |" in line
    assert run_all.write_table(out, rows, TODAY) == out  # idempotent


def test_first_table_goes_before_the_first_section():
    readme = "# Benchmarks\n\nIntro.\n\n## Import\n\nText.\n"
    out = run_all.write_table(readme, [], TODAY)
    assert out.startswith("# Benchmarks\n\nIntro.\n\n" + run_all.START)
    assert out.endswith(run_all.END + "\n\n## Import\n\nText.\n")


def test_failed_and_timed_out_runs_are_shown():
    spec = run_all.SPECS["sweep"]
    rows = (run_all.rows_for("sweep", spec, {"": {"status": "failed (exit 1)",
                                                  "command": "c"}}, TODAY)
            + run_all.rows_for("projections", run_all.SPECS["projections"], {"": {
                "status": "timed out after 5400 s", "command": "c"}}, TODAY))
    text = run_all.table(rows, TODAY)
    assert "| sweep | — | — | — | — | — | **failed (exit 1)** |" in text
    assert "**timed out after 5400 s**" in text
    merged = run_all.merge([{"benchmark": "sweep", "figure": "daily", "value": 10.0,
                             "met": "yes", "date": "2026-11-23", "source": "recorded"}], rows)
    assert [r["met"] for r in merged if r["benchmark"] == "sweep"] == ["failed (exit 1)"]
    assert {r["benchmark"] for r in merged} >= set(run_all.discover())  # none dropped


def test_figures_targets_and_baselines():
    data = [{"backend": "sqlite", "daily_waits": {"seconds": 11.5}, "baseline_load_all_s": 34.9},
            {"backend": "postgresql", "daily_waits": {"seconds": 31.0},
             "baseline_load_all_s": 58.5}]
    rows = run_all.rows_for("sweep", run_all.SPECS["sweep"],
                            {"": {"status": "ok", "command": "c", "data": data}}, TODAY)
    daily = {r["figure"]: r for r in rows if r["figure"].startswith("daily")}
    assert daily["daily sweep s, SQLite"]["met"] == "yes"
    assert daily["daily sweep s, PostgreSQL"]["met"] == "no"
    assert daily["daily sweep s, SQLite"]["ratio"] == pytest.approx(0.33, abs=0.01)
    assert rows[-1]["met"] == "missing" or rows[-1]["value"] is not None
    assert run_all.met(130.0, ("<=", 1.5), 100.0, True) == "yes"


def test_printed_json_is_read():
    out = 'progress\n{"a": 1}\n{\n  "b": {"c": 2}\n}\na table after it\n'
    assert run_all.last_json(out) == {"b": {"c": 2}}
    assert run_all.pick([{"mode": "listen", "x": 1}, {"mode": "poll", "x": 2}], "poll.x") == 2
