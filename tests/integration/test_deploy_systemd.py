"""deploy/systemd/: the units carry the settings the docs promise, `systemd-analyze verify`
accepts them, and the service's command line is a valid asgi-master invocation."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

UNITS = ROOT / "deploy" / "systemd"
SERVICE = UNITS / "asgi-master.service"
SOCKET = UNITS / "asgi-master.socket"
CONFIG = UNITS / "config.toml"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as ``{section: {key: [values]}}`` (keys such as ListenStream repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key} is missing"
    return values[-1]


def seconds(text: str) -> float:
    """A systemd time span in plain seconds or with one unit suffix (s, min)."""
    if text.endswith("min"):
        return float(text[:-3]) * 60
    return float(text.removesuffix("s"))


def test_service_is_type_notify_with_reload_by_hup_and_stop_by_term():
    service = parse_unit(SERVICE)
    assert one(service, "Service", "Type") == "notify"
    assert one(service, "Service", "NotifyAccess") == "main"
    assert one(service, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(service, "Service", "KillSignal") == "SIGTERM"
    assert one(service, "Service", "Restart") == "on-failure"
    assert seconds(one(service, "Service", "WatchdogSec")) > 0
    assert one(service, "Install", "WantedBy") == "multi-user.target"


def test_stop_timeout_is_above_graceful_timeout():
    service = parse_unit(SERVICE)
    graceful = tomllib.loads(CONFIG.read_text())["graceful_timeout"]
    assert seconds(one(service, "Service", "TimeoutStopSec")) > graceful


def test_service_is_hardened_and_runs_as_its_own_user():
    service = parse_unit(SERVICE)["Service"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["ProtectHome"] == ["yes"]
    assert service["PrivateTmp"] == ["yes"]
    assert service.get("DynamicUser") == ["yes"] or service.get("User") == ["asgi-master"]
    assert "root" not in service.get("User", [])
    runtime = service.get("RuntimeDirectory", [])
    if runtime:  # a writable place for a UNIX socket or pidfile despite ProtectSystem=strict
        assert f"/run/{runtime[0]}" in service["ReadWritePaths"]


def test_socket_unit_listens_and_activates_the_service():
    socket_unit = parse_unit(SOCKET)
    assert socket_unit["Socket"]["ListenStream"]
    assert one(socket_unit, "Socket", "Service") == SERVICE.name
    assert one(socket_unit, "Install", "WantedBy") == "sockets.target"


def test_execstart_reads_the_config_and_the_example_config_is_valid():
    argv = shlex.split(one(parse_unit(SERVICE), "Service", "ExecStart"))
    assert Path(argv[0]).name == "asgi-master"
    assert argv[1:] == ["-c", "/etc/asgi-master/config.toml"]
    # the same command with the example config (its app swapped for the bundled example)
    result = run_cli(
        "-c",
        str(CONFIG),
        "--check-config",
        env={"ASGI_MASTER_APP": "examples.hello:app", "ASGI_MASTER_APP_DIR": "."},
    )
    assert result.returncode == 0, result.stderr
    assert "configuration valid" in result.stdout


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (package systemd)",
)
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # verify checks that ExecStart's binary exists and is executable: point it at this venv's
    asgi_master = Path(shutil.which("asgi-master") or ROOT / ".venv" / "bin" / "asgi-master")
    if not asgi_master.exists():
        pytest.skip("no asgi-master executable to stand in for ExecStart's path")
    text = SERVICE.read_text()
    original = shlex.split(one(parse_unit(SERVICE), "Service", "ExecStart"))[0]
    (tmp_path / SERVICE.name).write_text(text.replace(original, str(asgi_master)))
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"./{SERVICE.name}", f"./{SOCKET.name}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and "asgi-master" not in output:
        pytest.skip(f"systemd-analyze cannot run here: {output.strip()[:200]}")
    # unknown keys and bad values are warnings with status 0: the output must be empty too
    problems = [line for line in output.splitlines() if "asgi-master" in line]
    assert result.returncode == 0 and not problems, output
