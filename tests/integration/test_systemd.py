"""systemd: sd_notify messages on a test datagram socket, and socket activation under the real
``systemd-socket-activate``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.timeout(120)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")


class NotifySocket:
    """A datagram socket standing in for systemd's notify socket; keeps every message."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[list[str]] = []

    def lines(self) -> list[str]:
        """Every line received so far, in order."""
        return [line for message in self.messages for line in message]

    def events(self) -> list[str]:
        """The state changes received so far (READY/RELOADING/STOPPING/MAINPID), in order."""
        return [
            line
            for line in self.lines()
            if line.split("=")[0] in ("READY", "RELOADING", "STOPPING", "MAINPID")
        ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; got {self.messages}")
            with contextlib.suppress(TimeoutError):
                self.messages.append(self.sock.recv(4096).decode().split("\n"))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    with tempfile.TemporaryDirectory(prefix="am-") as directory:  # short: sun_path is 108 bytes
        listener = NotifySocket(os.path.join(directory, "notify"))
        yield listener
        listener.close()


def test_notify_messages_arrive_in_order_ready_reloading_ready_stopping(start_server, notify):
    server = start_server(
        "tests.apps.basic:app", "--workers", "2", env={"NOTIFY_SOCKET": notify.address}
    )
    notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    assert server.log.count(") ready") >= 2  # READY=1 only once every first worker is ready
    server.signal(signal.SIGHUP)
    notify.wait_for(
        lambda: notify.events().count("READY=1") >= 2, timeout=40, what="READY=1 after the reload"
    )
    server.signal(signal.SIGTERM)
    notify.wait_for(lambda: "STOPPING=1" in notify.lines(), timeout=20, what="STOPPING=1")
    assert server.wait_exit() == 0
    assert notify.events() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
    reloading = next(m for m in notify.messages if "RELOADING=1" in m)
    usec = int(
        next(line for line in reloading if line.startswith("MONOTONIC_USEC=")).partition("=")[2]
    )
    assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 120 * 10**6
    statuses = [line for line in notify.lines() if line.startswith("STATUS=")]
    assert "STATUS=2/2 workers ready, generation 1, last reload: none" in statuses
    assert any("generation 2, last reload: generation 2 ok" in s for s in statuses)


def test_notify_reports_a_failed_reload_and_is_ready_again(start_server, notify, tmp_path: Path):
    (tmp_path / "notified.py").write_text("from tests.apps.basic import app\n")
    server = start_server(
        "notified:app",
        "--workers",
        "1",
        "--app-dir",
        str(tmp_path),
        env={"NOTIFY_SOCKET": notify.address},
    )
    notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    (tmp_path / "notified.py").write_text("raise ImportError('bad deploy')\n")
    server.signal(signal.SIGHUP)
    notify.wait_for(
        lambda: notify.events().count("READY=1") >= 2,
        timeout=40,
        what="READY=1 after the failed reload",
    )
    assert notify.events() == ["READY=1", "RELOADING=1", "READY=1"]
    last = notify.messages[-1]
    assert any(
        line.startswith("STATUS=")
        and "generation 1," in line
        and "generation 2 failed" in line
        and "bad deploy" in line
        for line in last
    )


def test_notify_socket_in_the_abstract_namespace(start_server):
    notify = NotifySocket(f"@asgi-master-test-{uuid.uuid4().hex}")
    try:
        start_server(
            "tests.apps.basic:app", "--workers", "1", env={"NOTIFY_SOCKET": notify.address}
        )
        notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    finally:
        notify.close()


def test_watchdog_is_petted_at_half_the_interval(start_server, notify):
    start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "1000000"},
    )
    notify.wait_for(
        lambda: notify.lines().count("WATCHDOG=1") >= 4,
        timeout=30,
        what="WATCHDOG=1 every half second",
    )


def test_watchdog_meant_for_another_process_is_not_petted(start_server, notify):
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"},
    )
    notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    # a second server whose watchdog is its own, started later: once it has petted four
    # times, the first one has had as long to do so
    with tempfile.TemporaryDirectory(prefix="am-") as directory:
        control = NotifySocket(os.path.join(directory, "notify"))
        try:
            start_server(
                "tests.apps.basic:app",
                "--workers",
                "1",
                env={"NOTIFY_SOCKET": control.address, "WATCHDOG_USEC": "1000000"},
            )
            control.wait_for(
                lambda: control.lines().count("WATCHDOG=1") >= 4,
                timeout=30,
                what="the control server's WATCHDOG=1",
            )
        finally:
            control.close()
    server.signal(signal.SIGTERM)
    notify.wait_for(lambda: "STOPPING=1" in notify.lines(), timeout=20, what="STOPPING=1")
    assert "WATCHDOG=1" not in notify.lines()


def test_workers_do_not_inherit_the_notify_socket(start_server, notify, tmp_path: Path):
    (tmp_path / "envapp.py").write_text(ENV_APP)
    server = start_server(
        "envapp:app",
        "--workers",
        "1",
        "--app-dir",
        str(tmp_path),
        env={"NOTIFY_SOCKET": notify.address},
    )
    notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    assert "NOTIFY_SOCKET=None" in httpx.get(server.url("/")).text


def test_usr2_upgrade_tells_systemd_the_new_main_pid(start_server, notify, tmp_path: Path):
    pidfile = tmp_path / "master.pid"
    server = start_server(
        "tests.apps.basic:app",
        "--workers",
        "1",
        "--pidfile",
        str(pidfile),
        env={"NOTIFY_SOCKET": notify.address},
    )
    notify.wait_for(lambda: "READY=1" in notify.lines(), timeout=20, what="READY=1")
    server.signal(signal.SIGUSR2)
    new_pid = 0
    try:
        notify.wait_for(
            lambda: any(e.startswith("MAINPID=") for e in notify.events()),
            timeout=30,
            what="MAINPID=",
        )
        new_pid = int(next(e for e in notify.events() if e.startswith("MAINPID="))[8:])
        assert server.wait_exit(timeout=60) == 0
        assert new_pid != server.pid
        assert int(pidfile.read_text()) == new_pid
        notify.wait_for(
            lambda: notify.events().count("READY=1") >= 2,
            timeout=20,
            what="READY=1 from the new master",
        )
        assert "STOPPING=1" not in notify.lines()  # a hand-over is not a stop
    finally:
        if new_pid:
            _stop(new_pid)


ENV_APP = """
import os
from tests.apps.lifespan import with_lifespan

@with_lifespan
async def app(scope, receive, send):
    names = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET")
    body = " ".join(f"{n}={os.environ.get(n)}" for n in names)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": f"pid={os.getpid()} {body}".encode()})
"""


def _stop(pid: int) -> None:
    """Stop a master that is not our child, by PID, and its workers."""
    with contextlib.suppress(psutil.NoSuchProcess):
        master = psutil.Process(pid)
        workers = master.children()
        master.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs([master, *workers], timeout=30)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


@pytest.mark.skipif(
    SOCKET_ACTIVATE is None,
    reason="systemd-socket-activate is not installed "
    "(Debian package `systemd`; .ci/run installs it)",
)
def test_socket_activation_serves_on_the_passed_socket_instead_of_bind(tmp_path: Path):
    assert SOCKET_ACTIVATE is not None
    (tmp_path / "envapp.py").write_text(ENV_APP)
    port, unused = free_port(), free_port()
    log_path = tmp_path / "activated.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                SOCKET_ACTIVATE,
                "-l",
                f"127.0.0.1:{port}",
                "--fdname=web",
                "-E",
                "PYTHONUNBUFFERED=1",
                sys.executable,
                "-m",
                "asgi_master",
                "envapp:app",
                "--app-dir",
                str(tmp_path),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{unused}",
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    workers: list[int] = []
    try:
        # the first connection makes systemd-socket-activate execute the server in its place
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert response.status_code == 200
        assert response.text.endswith(
            "LISTEN_FDS=None LISTEN_PID=None LISTEN_FDNAMES=None NOTIFY_SOCKET=None"
        )
        master = psutil.Process(proc.pid)
        assert master.cmdline()[0] == "asgi-master: master [envapp:app]"
        wait_for(lambda: len(master.children()) == 2, timeout=20, what="two workers")
        workers = [child.pid for child in master.children()]
        log_text = log_path.read_text()
        assert "Socket activation: serving on 1 socket(s) passed by systemd" in log_text
        assert f"Listening on fd://3 (127.0.0.1:{port}, name web)" in log_text
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{unused}/", timeout=5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    os.kill(pid, signal.SIGKILL)
