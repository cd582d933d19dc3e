"""Run every benchmark of bench/ and keep one table of their figures in bench/README.md.

    flock /tmp/h/bench.lock .venv/bin/python bench/run_all.py [--quick] [--only NAME,...]
        [--url postgresql+psycopg2://…/store]

Each script of bench/ runs in its own process, one after the other (the caller holds the
machine's benchmark lock). `SPECS` says, per script, its arguments (full and `--quick`), how
its figures are read (the file given to `--json`, or the last JSON object it prints), the
target of each figure and its same-run baseline. A script found in bench/ without a spec
still runs (full mode) and shows in the table as lacking one; tests/unit/test_bench_table.py
fails until it has one. A script that fails or times out shows as such, never dropped.

Full runs write bench/out/all.json, the figures to bench/recorded.json (kept in git: a row
not rerun keeps its last recorded figure and date) and the table between the markers at the
top of bench/README.md. `--quick` (small sizes, minutes) writes bench/out/quick.json and
prints the table only. `--url` gives a built, projected PostgreSQL store (the 200,000-patient
demo) to the scripts that take one; those that need one are skipped without it.
Sizing from these figures: docs/sizing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
README = BENCH / "README.md"
RECORDED = BENCH / "recorded.json"
OUT = BENCH / "out"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
NOT_BENCHMARKS = {"run_all", "wrk_loop"}  # bench/*.py that are not benchmarks (a helper)


@dataclass(frozen=True)
class Figure:
    label: str
    path: str  # dotted; in a list, a part picks the item with that value (a backend, a mode)
    target: tuple[str, float] | None = None  # (">=", 10_000), ("<", 50), …
    baseline: str | None = None  # path of the same-run baseline
    on_ratio: bool = False  # the target is on value / baseline
    variant: str = ""  # which of the spec's runs it comes from


@dataclass(frozen=True)
class Spec:
    full: tuple[str, ...]
    quick: tuple[str, ...] | None  # None: not run with --quick
    figures: tuple[Figure, ...]
    json_arg: bool = True  # takes --json PATH; else its last printed JSON object is read
    url: str = "no"  # "no", "optional" or "required": takes --url of a built store
    timeout: int = 3600
    default: bool = True  # run without --only
    variants: tuple[tuple[str, tuple[str, ...]], ...] = (("", ()),)


def both(*figures: tuple) -> tuple[Figure, ...]:
    """Each (label, path, target[, baseline path]) on each backend of a script that runs
    SQLite then PostgreSQL."""
    out = []
    for label, path, target, *base in figures:
        for key, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            out.append(Figure(f"{label}, {name}", f"{key}.{path}", target,
                              f"{key}.{base[0]}" if base else None))
    return tuple(out)


SPECS: dict[str, Spec] = {
    "import_ptl": Spec(
        ("--rows", "200000"), ("--rows", "10000"),
        both(("import rows/s", "import_rows_per_s", (">=", 10_000), "baseline_rows_per_s"),
             ("re-import rows/s", "reimport_rows_per_s", (">=", 50_000),
              "baseline_rows_per_s"),
             ("import peak RSS MB", "import_peak_rss_mb", ("<", 400))),
        timeout=1800),
    "projections": Spec(
        ("--patients", "200000"), ("--patients", "2000"),
        both(("catch-up events/s", "catch_up_events_per_s", (">=", 5_000),
              "baseline_events_per_s"),
             ("rebuild events/s", "rebuild_events_per_s", (">=", 5_000),
              "baseline_events_per_s"),
             ("worklist worst p95 ms", "worklist_worst_p95_ms", ("<", 50))),
        timeout=5400),
    "sweep": Spec(
        ("--patients", "200000"), ("--patients", "2000"),
        both(("daily sweep s", "daily_waits.seconds", ("<", 30), "baseline_load_all_s"),
             ("nothing-new sweep s", "nothing_new_waits.seconds", ("<", 2)),
             ("first (backfill) sweep s", "backfill_waits.seconds", None)),
        timeout=7200),
    "live_lag": Spec(
        ("--rows", "200000"), ("--rows", "5000", "--edits", "5"),
        (Figure("live lag p95 s during the import (listen; baseline: poll)",
                "listen.lag_p95_s", ("<", 1), "poll.lag_p95_s"),
         Figure("single edit p95 s (listen; baseline: poll)", "listen.edit_p95_s",
                baseline="poll.edit_p95_s")),
        timeout=3600),
    "web_load": Spec(
        ("--patients", "200000"),
        ("--patients", "2000", "--users", "10", "--seconds", "10", "--warm-up", "2",
         "--clients", "5"),
        (Figure("worklist p95 ms, after a 10 s warm-up (baseline: direct query p95)",
                "open_loop.worklist.p95_ms",
                ("<", 150), "baseline_direct_query.p95_ms"),
         Figure("patient page p95 ms, after the warm-up", "open_loop.patient.p95_ms",
                ("<", 100)),
         Figure("search p95 ms, after the warm-up (baseline: direct search p95)",
                "open_loop.search.p95_ms",
                ("<", 100), "baseline_direct_search.p95_ms"),
         Figure("open-loop errors", "open_loop.errors", ("<=", 0)),
         Figure("worklist p95 ms, whole run with its cold start",
                "open_loop.whole_run.worklist.p95_ms"),
         Figure("search p95 ms, whole run with its cold start",
                "open_loop.whole_run.search.p95_ms"),
         Figure("closed loop requests/s", "closed_loop.requests_per_s", (">=", 100))),
        json_arg=False, url="optional", timeout=2400),
    "report_contention": Spec(
        ("--patients", "200000", "--workers", "4", "--coordinators", "30", "--place-leads",
         "10", "--seconds", "60"),
        ("--patients", "2000", "--coordinators", "5", "--place-leads", "2", "--seconds", "10",
         "--rounds", "1"),
        (Figure("worklist p95 ms with reports (baseline: without; target on ratio)",
                "with_reports.worklist.p95_ms", ("<=", 1.5), "baseline.worklist.p95_ms",
                on_ratio=True),),
        json_arg=False, url="optional", timeout=2400),
    "csv_export": Spec(
        ("--runs", "3"), ("--runs", "1"),
        (Figure("largest PCN export s (baseline: one query)", "export_s_best", ("<", 3),
                "baseline_s"),
         Figure("server memory growth MB, largest PCN", "growth_mb_large_worst")),
        url="required", timeout=900),
    "digest": Spec(
        ("--patients", "200000", "--backend", "postgresql"),
        ("--patients", "2000", "--backend", "postgresql"),
        (Figure("weekly digest queued and rendered, every practice, s (baseline: a plain "
                "count)", "digest_and_render_seconds", ("<", 60), "count_seconds"),),
        json_arg=False, url="optional", timeout=3600),
    "notify_throughput": Spec(
        ("--count", "100000", "--baseline-count", "20000"),
        ("--count", "2000", "--baseline-count", "1000"),
        tuple(Figure(f"messages/s, {v} (baseline: bare SMTP loop)", "measured.per_second",
                     (">=", 500), "baseline.per_second", variant=v)
              for v in ("SQLite", "PostgreSQL"))
        + tuple(Figure(f"memory growth MB after the first tenth, {v}",
                       "measured.rss_growth_after_first_tenth_mb", ("<=", 20), variant=v)
                for v in ("SQLite", "PostgreSQL")),
        variants=(("SQLite", ()), ("PostgreSQL", ("--postgres",))), timeout=1800),
    "patient_load": Spec(
        ("--with-coordinators",),
        ("--with-coordinators", "--patients", "10", "--seconds", "10", "--warm-up", "3",
         "--users", "5", "--clients", "5", "--closed-seconds", "5"),
        (Figure("/my p95 ms, 100 patients beside web_load (baseline: direct reads p95)",
                "patients_load.steady.my.p95_ms", ("<", 100),
                "baseline_direct.page_reads.p95_ms"),
         Figure("referral p95 ms, beside web_load", "patients_load.steady.referral.p95_ms",
                ("<", 100), "baseline_direct.page_reads.p95_ms"),
         Figure("/my p95 ms, during web_load's closed loop (saturated, reported)",
                "patients_load.during_closed_loop.my.p95_ms"),
         Figure("patient requests/s", "patients_load.steady.requests_per_s"),
         Figure("beside them: coordinators' worklist p95 ms",
                "coordinators_load.steady.worklist.p95_ms", ("<", 150)),
         Figure("beside them: coordinators' patient page p95 ms",
                "coordinators_load.steady.patient.p95_ms", ("<", 100)),
         Figure("beside them: coordinators' search p95 ms",
                "coordinators_load.steady.search.p95_ms", ("<", 100)),
         Figure("closed loop requests/s beside the patients (saturated, reported)",
                "coordinators_load.closed_loop.requests_per_s")),
        json_arg=False, url="required", timeout=900),
    "web_cost": Spec(
        (), ("--seconds", "5", "--warmup", "1", "--samples", "20", "--clients", "5"),
        (Figure("HTML worklist p50 ms, one client (baseline: its SQL; target on ratio)",
                "one_client.html.p50_ms", ("<=", 2), "direct_sql.html.p50_ms", on_ratio=True),
         Figure("JSON worklist p50 ms, one client (baseline: its SQL; target on ratio)",
                "one_client.json.p50_ms", ("<=", 2), "direct_sql.json.p50_ms", on_ratio=True),
         Figure("HTML worklist requests/s, 20 clients", "closed_loop.html.requests_per_s",
                (">=", 200)),
         Figure("JSON worklist requests/s, 20 clients", "closed_loop.json.requests_per_s",
                (">=", 150))),
        json_arg=False, url="optional", timeout=900),
    "rebuild": Spec(
        ("--processes", "2"), ("--processes", "2"),
        (Figure("partitioned rebuild s, 200,000 patients (baseline: one process)",
                "partitioned_s", ("<", 60), "single_s"),),
        url="required", timeout=3600),
    "million": Spec(
        ("--patients", "900000"), None,
        (Figure("build (demo + read models) s", "build_s", ("<", 1500)),
         Figure("first sweep (backfill) s", "first_sweep.seconds"),
         Figure("daily sweep s", "daily_sweep.seconds", ("<", 30)),
         Figure("worklist worst p95 ms, largest PCN", "worklist.worst_p95_ms", ("<", 50)),
         Figure("partitioned rebuild s", "rebuild.seconds"),
         Figure("database MB", "sizes.database_mb")),
        timeout=4 * 3600),
    "before_after": Spec(  # compares two commits: by hand, or `--only before_after`
        ("HEAD~1", "HEAD", "--bench", "projections.py --patients 20000 --backends postgresql"),
        None, (), default=False, timeout=3600),
}


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in NOT_BENCHMARKS)


def pick(data, path: str):
    """The value at a dotted path; in a list, a part names the item having that value."""
    for part in path.split("."):
        if isinstance(data, list):
            data = next((d for d in data if isinstance(d, dict) and any(
                str(v).lower() == part for v in d.values())), None)
        elif isinstance(data, dict):
            data = data.get(part)
        if data is None:
            return None
    return data


def last_json(text: str):
    """The last JSON object a script printed (on one line or indented over several)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("{"):
            for end in range(len(lines), i, -1):
                try:
                    return json.loads("\n".join(lines[i:end]))
                except ValueError:
                    continue
    return None


def met(value, target, baseline, on_ratio) -> str:
    if target is None:
        return "—"
    x = value / baseline if on_ratio and baseline else value
    if x is None:
        return "?"
    op, limit = target
    ok = {">=": x >= limit, "<": x < limit, "<=": x <= limit}[op]
    return "yes" if ok else "no"


def rows_for(name: str, spec: Spec | None, outcomes: dict[str, dict], day: str) -> list[dict]:
    """The table's rows for one script from its runs' outcomes (variant → outcome)."""
    rows = []
    for variant, outcome in outcomes.items():
        common = {"benchmark": name, "date": day, "source": "rerun",
                  "command": outcome["command"]}
        if outcome["status"] != "ok" or spec is None:
            what = outcome["status"] if spec else f"no spec in run_all ({outcome['status']})"
            rows.append({**common, "figure": variant or "—", "value": None, "target": None,
                         "baseline": None, "ratio": None, "met": what})
            continue
        for f in (f for f in spec.figures if f.variant == variant):
            value, base = pick(outcome["data"], f.path), None
            if f.baseline:
                base = pick(outcome["data"], f.baseline)
            numeric = isinstance(value, int | float) and isinstance(base, int | float) and base
            rows.append({**common, "figure": f.label, "value": value,
                         "target": list(f.target) if f.target else None,
                         "on_ratio": f.on_ratio, "baseline": base,
                         "ratio": round(value / base, 3) if numeric else None,
                         "met": "missing" if value is None
                         else met(value, f.target, base, f.on_ratio)})
    return rows


def run_script(name: str, spec: Spec | None, quick: bool, url: str | None,
               scale: float) -> dict[str, dict]:
    """Run one script (each variant) in its own process; variant → outcome."""
    outcomes = {}
    variants = spec.variants if spec else (("", ()),)
    for variant, extra in variants:
        args = list((spec.quick if quick else spec.full) if spec else ())
        args += extra
        if spec and url and spec.url != "no":
            args += ["--url", url]
        out = OUT / (f"{name}{'-' + variant.lower() if variant else ''}"
                     f"{'-quick' if quick else ''}.json")
        if spec is None or spec.json_arg:
            args += ["--json", str(out.relative_to(ROOT))]
        command = " ".join([".venv/bin/python", f"bench/{name}.py", *args])
        timeout = (spec.timeout if spec else 3600) * scale
        print(f"== {command}", flush=True)
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args],
                                  cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            outcomes[variant] = {"status": f"timed out after {timeout:.0f} s",
                                 "command": command}
            continue
        seconds = round(time.perf_counter() - started, 1)
        outcome = {"command": command, "seconds": seconds, "stderr": done.stderr[-3000:]}
        data = None
        if done.returncode == 0:
            data = (json.loads(out.read_text()) if out.exists() else None) \
                if spec is None or spec.json_arg else last_json(done.stdout)
        if done.returncode != 0:
            outcome["status"] = f"failed (exit {done.returncode})"
        elif spec is not None and data is None:
            outcome["status"] = "failed (no figures read)"
        else:
            outcome["status"] = "ok"
        outcome["data"] = data
        outcomes[variant] = outcome
        print(f"   {outcome['status']} in {seconds} s", flush=True)
    return outcomes


def number(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}".rstrip("0").rstrip(".")


def target_text(row: dict) -> str:
    if not row.get("target"):
        return "—"
    op, limit = row["target"]
    sign = {">=": "≥", "<": "<", "<=": "≤"}[op]
    return f"{sign} {number(limit)}{'× baseline' if row.get('on_ratio') else ''}"


def table(rows: list[dict], today: str) -> str:
    head = ("| benchmark | figure | value | target | same-run baseline | ratio | met? | date "
            "| command |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for r in rows:
        when = r["date"] + {"rerun": " (rerun today)" if r["date"] == today else "",
                            "recorded": " (recorded)"}.get(r["source"], "")
        ratio = f"×{number(r['ratio'])}" if r.get("ratio") is not None else "—"
        status = r["met"] if r["met"] in ("yes", "no", "—") else f"**{r['met']}**"
        lines.append(f"| {r['benchmark']} | {r['figure']} | {number(r['value'])} | "
                     f"{target_text(r)} | {number(r['baseline'])} | {ratio} | {status} | "
                     f"{when} | `{r['command']}` |")
    return "\n".join(lines)


def write_table(readme: str, rows: list[dict], today: str) -> str:
    """README text with the block between the markers replaced (or put before the first
    section), and nothing else changed."""
    block = (f"{START}\n## Every benchmark, one table (`bench/run_all.py`)\n\n"
             "Written by `flock /tmp/h/bench.lock .venv/bin/python bench/run_all.py` (every "
             "script, full size; `--only a,b` some; `--url` a built 200,000-patient store for "
             "the scripts that take one; `--quick` small sizes, printed only). A row not "
             "rerun keeps its last recorded figure and date, marked \"recorded\" "
             "(bench/recorded.json); a script that failed or timed out says so. Ratio: the "
             "figure ÷ its same-run baseline. Each figure's section below says how it was "
             "measured. Sizing a region from these figures: "
             "[docs/sizing.md](../docs/sizing.md).\n\n"
             f"{table(rows, today)}\n{END}")
    if START in readme and END in readme:
        before, rest = readme.split(START, 1)
        return before + block + rest.split(END, 1)[1]
    at = readme.find("\n## ")
    if at < 0:
        return readme.rstrip("\n") + "\n\n" + block + "\n"
    return readme[:at + 1] + block + "\n\n" + readme[at + 1:]


def merge(recorded: list[dict], fresh: list[dict]) -> list[dict]:
    """Recorded rows, those of every benchmark run now replaced, in the discovered order."""
    ran = {r["benchmark"] for r in fresh}
    rows = [r for r in recorded if r["benchmark"] not in ran] + fresh
    shown = {r["benchmark"] for r in rows}
    rows += [{"benchmark": name, "figure": "—", "value": None, "target": None,
              "baseline": None, "ratio": None, "met": "never run", "date": "—",
              "source": "none", "command": f".venv/bin/python bench/{name}.py"}
             for name in discover() if name not in shown]
    order: dict[str, int] = {}
    for name in [*SPECS, *discover()]:
        order.setdefault(name, len(order))
    return sorted(rows, key=lambda r: order.get(r["benchmark"], len(order)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; README untouched")
    parser.add_argument("--only", help="comma-separated script names (without .py)")
    parser.add_argument("--url", help="a built, projected PostgreSQL store")
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    args = parser.parse_args()
    names = discover()
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - set(names)
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        names = [n for n in names if n in wanted]
    else:
        names = [n for n in names if n not in SPECS or SPECS[n].default]
    today = dt.date.today().isoformat()
    OUT.mkdir(exist_ok=True)
    fresh, results = [], {}
    for name in names:
        spec = SPECS.get(name)
        if (args.quick and (spec is None or spec.quick is None)) or (
                spec and spec.url == "required" and not args.url):
            why = ("not run: needs --url" if spec and spec.url == "required" and not args.url
                   else "not run in --quick")
            results[name] = {"status": why}
            print(f"== {name}: {why}")
            continue
        outcomes = run_script(name, spec, args.quick, args.url, args.timeout_scale)
        results[name] = outcomes
        fresh += rows_for(name, spec, outcomes, today)
    recorded = json.loads(RECORDED.read_text())["rows"] if RECORDED.exists() else []
    rows = merge(recorded, fresh) if not args.quick else fresh
    summary = {"run_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "quick": args.quick, "url": args.url, "results": results, "rows": rows}
    (OUT / ("quick.json" if args.quick else "all.json")).write_text(
        json.dumps(summary, indent=2, default=str))
    print(table(rows, today))
    if not args.quick:
        RECORDED.write_text(json.dumps({"rows": rows}, indent=1, ensure_ascii=False) + "\n")
        README.write_text(write_table(README.read_text(), rows, today))
    if any(r["met"] not in ("yes", "no", "—") for r in fresh):
        sys.exit(1)


if __name__ == "__main__":
    main()
