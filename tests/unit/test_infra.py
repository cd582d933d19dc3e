"""The deployment files in infra/ are real and agree with the code (docs/deployment.md,
docs/runbook.md): the compose file loads and runs the same processes as the systemd units;
every ExecStart and compose command is a `guardian` command line the CLI accepts; the
projector groups name real read models; postgresql.conf parses and leaves room for the
connections the processes keep; the shell scripts are valid bash; the TLS proxy sends HSTS
and is the one trusted proxy; and docs/deployment.md points at each file."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from guardian.cli import app as cli
from guardian.config import Settings
from guardian.projections.registry import named

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
UNITS = sorted((INFRA / "systemd").glob("*.service"))
GUARDIAN_BIN = "/srv/guardian/venv/bin/guardian"
# The projector instances docs/runbook.md and the compose file run.
INSTANCES = ["worklist", "bottlenecks,patient_search"]


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section → key → values (a key may repeat), continuation
    lines joined; anything but a comment, a section or key=value is an error."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    text = path.read_text().replace("\\\n", " ")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            current = sections.setdefault(m.group(1), {})
            continue
        m = re.fullmatch(r"([A-Za-z]+)=(.*)", line)
        assert m and current is not None, f"{path.name}:{number}: not a unit line: {line}"
        current.setdefault(m.group(1), []).append(m.group(2).strip())
    return sections


def accepts(args: list[str]) -> None:
    """The CLI knows this command and its options (`--help` after them parses them all,
    runs nothing)."""
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"guardian {shlex.join(args)}: {result.output}"


def compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def test_every_unit_runs_a_guardian_command_the_cli_accepts() -> None:
    assert {p.name for p in UNITS} == {"guardian-web.service", "guardian-projector@.service",
                                      "guardian-scheduler.service", "guardian-notify.service"}
    for path in UNITS:
        sections = unit(path)
        assert {"Unit", "Service", "Install"} <= set(sections), path.name
        service = sections["Service"]
        [exec_start] = service["ExecStart"]
        program, *args = shlex.split(exec_start)
        assert program == GUARDIAN_BIN, path.name
        assert service["EnvironmentFile"] == ["/etc/guardian/guardian.env"], path.name
        assert service["User"] == ["guardian"] and service["Restart"], path.name
        assert sections["Unit"]["PartOf"] == ["guardian.target"], path.name
        assert sections["Install"]["WantedBy"] == ["guardian.target"], path.name
        if "%I" in args:
            for instance in INSTANCES:
                accepts([instance if a == "%I" else a for a in args])
        else:
            accepts(args)
    target = unit(INFRA / "systemd" / "guardian.target")
    assert target["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_projector_groups_name_every_read_model_once() -> None:
    groups = [named(instance.split(",")) for instance in INSTANCES]
    names = [model.name for group in groups for model in group]
    assert sorted(names) == sorted(model.name for model in named(None))


def test_compose_runs_postgresql_15_the_same_processes_and_a_tls_proxy() -> None:
    services = compose()["services"]
    assert services["db"]["image"].startswith("postgres:15")
    assert any("postgresql.conf" in v for v in services["db"]["volumes"])
    commands = {name: s["command"] for name, s in services.items()
                if s.get("entrypoint") is None and name not in ("db", "proxy")}
    for args in commands.values():
        accepts(args)
    firsts = sorted(args[0] for args in commands.values())
    assert firsts == ["db", "notify", "project", "project", "scheduler", "serve"]
    groups = sorted(args[args.index("--read-models") + 1] for args in commands.values()
                    if "--read-models" in args)
    assert groups == sorted(INSTANCES)
    for name in commands:
        if name != "init":
            assert services[name]["depends_on"]["init"]["condition"] == \
                "service_completed_successfully", name
    assert "ports" not in services["web"] and "ports" not in services["db"]
    proxy = services["proxy"]
    assert sorted(proxy["ports"]) == ["443:443", "80:80"]
    assert any(v.startswith("./Caddyfile:") for v in proxy["volumes"])
    # The proxy's fixed address is the one GUARDIAN_TRUSTED_PROXIES names.
    address = proxy["networks"]["guardian"]["ipv4_address"]
    env = dict(line.split("=", 1) for line in (INFRA / "guardian.env.example").read_text()
               .splitlines() if line and not line.startswith("#"))
    assert env["GUARDIAN_TRUSTED_PROXIES"] == address


def test_the_proxy_terminates_tls_with_hsts_and_forwards_to_the_web_app() -> None:
    caddy = (INFRA / "Caddyfile").read_text()
    assert re.search(r'Strict-Transport-Security "max-age=\d{8,}', caddy)
    assert re.search(r"^\s*tls \S+ \S+", caddy, re.M)
    assert "reverse_proxy {$GUARDIAN_UPSTREAM:127.0.0.1:8000}" in caddy
    directives = "\n".join(line.split("#", 1)[0] for line in caddy.splitlines())
    assert "trusted_proxies" not in directives  # no client's X-Forwarded-* is passed on


def settings_of(conf: str) -> dict[str, str]:
    out = {}
    for number, line in enumerate(conf.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([a-z_]+)\s*=\s*('[^']*'|[\w.]+)", line)
        assert m, f"postgresql.conf:{number}: not a setting: {line}"
        assert m.group(1) not in out, f"postgresql.conf:{number}: {m.group(1)} twice"
        out[m.group(1)] = m.group(2).strip("'")
    return out


def test_postgresql_conf_parses_and_has_room_for_every_connection() -> None:
    conf = settings_of((INFRA / "postgresql.conf").read_text())
    web = unit(INFRA / "systemd" / "guardian-web.service")["Service"]["ExecStart"][0]
    workers = int(re.search(r"--workers (\d+)", web).group(1))
    defaults = Settings(_env_file=None)
    per_worker = defaults.web_threads + 4 + defaults.report_workers  # docs/deployment.md
    others = 2 * 4 + 3 + 2 + 3  # two projector groups, scheduler, dispatcher, an import
    assert int(conf["max_connections"]) >= (workers * per_worker + others
                                            + int(conf["superuser_reserved_connections"]))
    assert conf["autovacuum"] == "on"
    assert conf["fsync"] == "on" and conf["synchronous_commit"] == "on"
    assert conf["log_statement"] in ("none", "ddl")  # statements carry patient data
    for name in ("shared_buffers", "work_mem", "wal_level", "max_wal_size",
                 "log_min_duration_statement"):
        assert name in conf


@pytest.mark.parametrize("script", ["backup.sh", "restore.sh"])
def test_the_backup_scripts_are_valid_bash_and_executable(script: str) -> None:
    path = INFRA / script
    assert os.access(path, os.X_OK)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    usage = subprocess.run([str(path)], capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"]})
    assert usage.returncode == 2 and usage.stderr  # no arguments: says what it needs


def test_the_deployment_guide_points_at_the_files() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for path in [*UNITS, INFRA / "systemd" / "guardian.target", INFRA / "compose.yaml",
                 INFRA / "postgresql.conf", INFRA / "backup.sh", INFRA / "restore.sh",
                 INFRA / "Caddyfile"]:
        assert str(path.relative_to(ROOT)) in guide, path.name
    assert "runbook.md" in guide
    assert "runbook.md" in (ROOT / "README.md").read_text()


def test_the_settings_example_names_real_settings_one_a_line() -> None:
    """systemd, compose and a shell all read it: no trailing comments, values with spaces
    quoted, every name a GUARDIAN_* setting (docs/cli.md#configuration)."""
    known = {f"GUARDIAN_{name.upper()}" for name in Settings.model_fields}
    for number, line in enumerate((INFRA / "guardian.env.example").read_text().splitlines(), 1):
        line = line.removeprefix("# ") if re.match(r"# GUARDIAN_", line) else line
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert name in known, f"guardian.env.example:{number}: {name} is not a setting"
        assert " #" not in value, f"guardian.env.example:{number}: a trailing comment"
        if re.search(r"[\s<>]", value):
            assert value[0] == value[-1] == '"', f"guardian.env.example:{number}: unquoted"
