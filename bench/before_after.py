"""Run benchmarks at two commits, back to back on this machine, and compare their figures.

A change of shape must keep every figure: this runs each named benchmark at the BEFORE
commit and at the AFTER commit (each in a `git worktree` of its own, with this checkout's
`.venv`), alternating when `--rounds` > 1, and prints each numeric figure of the two JSON
results side by side with the ratio after/before. Figures whose name says time or latency
(`_s`, `_ms`, `p50`, `p95`, `seconds`, `_mb`) are better lower; the rest (rows/s, events/s)
higher. A change beyond 10 % the wrong way is marked.

    .venv/bin/python bench/before_after.py BEFORE [AFTER=HEAD] \
        [--bench "import_ptl.py --rows 50000"] [--bench "projections.py --patients 20000"] \
        [--rounds 1] [--json bench/out/before_after.json]

Each `--bench` is a script under `bench/` with its arguments; `--json FILE` is added to it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCHES = [
    "import_ptl.py --rows 50000",
    "projections.py --patients 20000",
    "sweep.py --patients 20000",
]


def worktree(commit: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit],
                   check=True, capture_output=True)
    return where


def run_bench(tree: Path, bench: str, out: Path) -> object:
    script, *args = shlex.split(bench)
    cmd = [str(ROOT / ".venv/bin/python"), str(tree / "bench" / script), *args,
           "--json", str(out)]
    print(f"$ (in {tree.name}) {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, cwd=tree, check=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.read_text())


def leaves(value: object, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a JSON value, keyed by its path."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, (int, float)):
        return {prefix: float(value)}
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(_label(i, v), v) for i, v in enumerate(value)]
    out: dict[str, float] = {}
    for key, v in items:
        out.update(leaves(v, f"{prefix}.{key}" if prefix else key))
    return out


def _label(index: int, value: object) -> str:
    if isinstance(value, dict):
        for key in ("backend", "name", "mode", "label"):
            if isinstance(value.get(key), str):
                return value[key]
    return str(index)


def lower_is_better(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    if "per_s" in leaf:
        return False
    return leaf.endswith(("_s", "_ms", "seconds", "_mb")) or "p50" in leaf or "p95" in leaf


def compare(before: object, after: object) -> list[tuple[str, float, float, float]]:
    b, a = leaves(before), leaves(after)
    return [(k, b[k], a[k], a[k] / b[k]) for k in b if k in a and b[k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--bench", action="append", help="a bench script and its arguments")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    benches = args.bench or DEFAULT_BENCHES
    results: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="before-after-") as tmp:
        trees = {label: worktree(commit, Path(tmp) / label)
                 for label, commit in (("before", args.before), ("after", args.after))}
        try:
            for bench in benches:
                runs = results.setdefault(bench, [])
                for r in range(args.rounds):
                    pair = {}
                    for label, tree in trees.items():
                        pair[label] = run_bench(tree, bench, Path(tmp) / f"{label}-{r}.json")
                    runs.append(pair)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)
    print()
    for bench, runs in results.items():
        print(f"## {bench}")
        for r, pair in enumerate(runs):
            for name, b, a, ratio in compare(pair["before"], pair["after"]):
                worse = ratio > 1 if lower_is_better(name) else ratio < 1
                flag = " (worse)" if worse and abs(ratio - 1) > 0.10 else ""
                print(f"  round {r + 1} {name}: before {b:,.1f}  after {a:,.1f}  "
                      f"×{ratio:.3f}{flag}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
