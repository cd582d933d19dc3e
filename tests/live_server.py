"""Helpers for tests that run Guardian as separate processes (tests/browser,
tests/integration/test_schema_fuzz.py, test_serve_proxy.py; docs/cli.md).

- `run_guardian(["db", "init"], ["demo", …], env=…, cwd=…)`: several `guardian` commands
  in one interpreter (one start-up, not one per command); their standard output, or the
  test fails naming the command that failed.
- `stop(proc)`: SIGTERM a `guardian serve`, then SIGKILL if it has not exited in 15 s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

_COMMANDS = """
import sys
from guardian.cli import app
for args in ARGS:
    try:
        app(args, prog_name="guardian")
    except SystemExit as e:
        if e.code:
            sys.exit(f"guardian {' '.join(args)} exited with {e.code}")
"""


def run_guardian(*commands: list[str], env: dict[str, str], cwd: Path) -> str:
    code = _COMMANDS.replace("ARGS", repr([list(c) for c in commands]))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(f"{' ; '.join(' '.join(c) for c in commands)} failed "
                    f"({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
