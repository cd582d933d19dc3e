"""A closed loop driven by wrk (Debian's `wrk`), and where the CPU went while it ran.

A load generator written in Python spends several milliseconds of CPU on each request
(httpx: 4-5.5 ms a request on the benchmark machine; bench/README.md, the web layer's cost),
on the same two cores as the server it measures; wrk spends 0.14-0.26 ms. So the throughput
figures of bench/web_cost.py are taken with wrk when it is installed (`make bench-tools`), the
generator held to core 1 as before, and each run also says how many milliseconds of CPU a
request cost the web server's processes, PostgreSQL and the generator.

    found = closed_loop("http://127.0.0.1:8000", [("/worklist?pcn=…", {"Cookie": "…"}), …],
                        connections=20, seconds=20, warmup=3, server_pgid=server.pid)
    found["requests_per_s"], found["p50_ms"], found["cpu_ms_per_request"]["server"]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA = """
local list = {}
local n = 0
init = function(args)
%s
end
request = function()
  n = n + 1
  return list[(n %% #list) + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua one for this ASCII text


def script(requests: list[tuple[str, dict[str, str]]]) -> str:
    """The Lua script that asks for `requests` (path, headers) in turn, round and round."""
    lines = []
    for i, (path, headers) in enumerate(requests, start=1):
        pairs = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        lines.append(f'  list[{i}] = wrk.format("GET", {_lua_string(path)}, {{{pairs}}})')
    return LUA % "\n".join(lines)


def cpu_seconds(server_pgid: int) -> dict[str, float]:
    """CPU seconds used so far by the server's process group, by PostgreSQL's processes and
    by every other live process (from /proc; a process that has exited is not counted: the
    generator's own CPU is taken from its exit, `_children_cpu`)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {"server": 0.0, "postgresql": 0.0, "other": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        group = int(fields[2])
        kind = ("server" if group == server_pgid else "postgresql" if name == "postgres"
                else "other")
        found[kind] += used
    return found


def _wrk(base: str, lua: Path, connections: int, seconds: float) -> dict:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "60s", "-s", str(lua), base]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    child = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise SystemExit(f"wrk failed: {child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def closed_loop(base: str, requests: list[tuple[str, dict[str, str]]], connections: int,
                seconds: float, warmup: float, server_pgid: int) -> dict:
    """`connections` connections back to back for `warmup` seconds (not counted), then for
    `seconds`: requests/s, p50/p95, failures, and CPU milliseconds per request."""
    with tempfile.TemporaryDirectory(prefix="guardian-wrk-") as tmp:
        lua = Path(tmp) / "requests.lua"
        lua.write_text(script(requests))
        warm = (_wrk(base, lua, connections, warmup) if warmup > 0
                else {"requests": 0, "non_2xx": 0, "socket_errors": 0})
        before, before_self = cpu_seconds(server_pgid), _children_cpu()
        found = _wrk(base, lua, connections, seconds)
        after, after_self = cpu_seconds(server_pgid), _children_cpu()
    n = max(1, found["requests"])
    cpu = {k: round(1000 * (after[k] - before[k]) / n, 2) for k in before}
    cpu["generator"] = round(1000 * (after_self - before_self) / n, 3)
    elapsed = found["duration_us"] / 1e6
    return {"generator": "wrk", "clients": connections, "seconds": round(elapsed, 1),
            "requests": found["requests"],
            "requests_per_s": round(found["requests"] / elapsed, 1),
            "errors": found["non_2xx"] + found["socket_errors"],
            "answered_with_warmup": sum(r["requests"] - r["non_2xx"] - r["socket_errors"]
                                        for r in (warm, found)),
            "p50_ms": round(found["p50_us"] / 1000, 1),
            "p95_ms": round(found["p95_us"] / 1000, 1),
            "max_ms": round(found["max_us"] / 1000, 1), "cpu_ms_per_request": cpu}


def _children_cpu() -> float:
    """CPU seconds of this process's children that have finished (the wrk runs)."""
    t = os.times()
    return t.children_user + t.children_system
