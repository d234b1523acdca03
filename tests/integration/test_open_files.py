"""The open-files limit: raised by the master at start for its workers, and what a worker does
when it runs out of descriptors anyway (the event loop's behaviour, played for real)."""

from __future__ import annotations

import contextlib
import functools
import resource
import socket
import subprocess
import time

import psutil
import pytest

from tests.conftest import run_cli, wait_for

pytestmark = pytest.mark.timeout(90)

REQUEST = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"


@pytest.fixture
def inherited_limit(monkeypatch):
    """``inherited_limit(soft, hard)``: servers started next inherit that RLIMIT_NOFILE, as a
    service started by systemd inherits ``LimitNOFILE=``."""

    def set_limit(soft: int, hard: int) -> None:
        def preexec() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        monkeypatch.setattr(
            subprocess, "Popen", functools.partial(subprocess.Popen, preexec_fn=preexec)
        )

    return set_limit


def open_files_limit(pid: int) -> tuple[int, int]:
    return psutil.Process(pid).rlimit(psutil.RLIMIT_NOFILE)


def test_workers_inherit_the_soft_limit_raised_to_the_hard_one(start_server, inherited_limit):
    inherited_limit(256, 4096)
    server = start_server("examples.hello:app", "--workers", "2")
    server.wait_ready(workers=2)
    assert server.log.count("Open files limit raised from 256 to 4096 (the hard limit)") == 1
    for pid in (server.pid, *server.worker_pids()):
        assert open_files_limit(pid) == (4096, 4096)


def test_a_number_caps_the_raise(start_server, inherited_limit):
    inherited_limit(256, 4096)
    server = start_server("examples.hello:app", "--workers", "1", "--open-files-limit", "1000")
    server.wait_ready()
    assert "Open files limit raised from 256 to 1000 (open_files_limit; hard limit 4096)" in (
        server.log
    )
    (worker,) = server.worker_pids()
    assert open_files_limit(worker) == (1000, 4096)


def test_off_keeps_the_inherited_limit(start_server, inherited_limit):
    inherited_limit(256, 4096)
    server = start_server("examples.hello:app", "--workers", "1", "--open-files-limit", "off")
    server.wait_ready()
    assert "Open files limit: 256 (open_files_limit = off)" in server.log
    (worker,) = server.worker_pids()
    assert open_files_limit(worker) == (256, 4096)


def answered(sock: socket.socket) -> bool:
    """Send a request; True if a response comes back, False if the server closed on us."""
    try:
        sock.sendall(REQUEST)
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return data.startswith(b"HTTP/1.1 200")


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def test_a_worker_out_of_descriptors_serves_its_connections_and_accepts_again(
    start_server, inherited_limit
):
    limit = 64
    inherited_limit(limit, limit)  # the master cannot raise it
    server = start_server("examples.hello:app", "--workers", "1")
    server.wait_ready()
    (worker,) = server.workers()
    held: list[socket.socket] = []
    refused = 0
    try:
        # more connections than the worker has descriptors: the ones beyond are closed at once
        for _ in range(limit + 16):
            sock = connect(server.port)
            if answered(sock):
                held.append(sock)
            else:
                refused += 1
                sock.close()
        assert refused > 0, "the worker never ran out of descriptors"
        assert len(held) > limit // 2
        # while it is out of descriptors: its open connections are served, more new ones are
        # closed, and the loop does not spin on the readable listening socket
        cpu_before, wall_before = sum(worker.cpu_times()[:2]), time.monotonic()
        for sock in held:
            assert answered(sock), "an open keep-alive connection stopped being served"
        for _ in range(20):
            with contextlib.closing(connect(server.port)) as sock:
                assert not answered(sock)
        wait_for(
            lambda: "Worker 1: out of file descriptors" in server.log,
            timeout=10,
            what="the worker to say it is out of descriptors",
        )
        wait_for(lambda: time.monotonic() - wall_before > 3, timeout=10, what="3 seconds")
        cpu = sum(worker.cpu_times()[:2]) - cpu_before
        assert cpu < 1.0, f"the worker used {cpu:.2f}s of CPU in 3s at the limit: spinning"
        # descriptors freed: new connections are served again by the same worker
        for sock in held[:10]:
            sock.close()
        del held[:10]

        def new_connection_served() -> bool:
            # the worker frees a descriptor when it sees the client's close: try until then
            with contextlib.closing(connect(server.port)) as sock:
                return answered(sock)

        wait_for(new_connection_served, timeout=10, what="a new connection served")
        assert server.worker_pids() == {worker.pid}
        assert server.log.count("out of file descriptors") == 1  # once, not per connection
    finally:
        for sock in held:
            sock.close()


def test_a_bad_value_is_a_one_line_config_error():
    result = run_cli("examples.hello:app", "--open-files-limit", "lots")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'asgi-master: error: flag --open-files-limit: open_files_limit = "lots": expected a '
        'whole number >= 1, "hard" or "off"'
    )
