"""deploy/systemd/: the units carry the settings the docs promise. (`systemd-analyze verify`,
and the service's command line through ``--check-config``, are in
tests/integration/test_deploy_commands.py.)"""

from __future__ import annotations

import tomllib

from tests.deploy_files import SERVICE, SOCKET, SYSTEMD_CONFIG, one, parse_unit


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
    graceful = tomllib.loads(SYSTEMD_CONFIG.read_text())["graceful_timeout"]
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
