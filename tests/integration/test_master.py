"""The master and its workers as real processes: boot, titles, replacement, stop, failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import psutil
import pytest

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.timeout(60)


def test_example_app_answers_200(start_server):
    server = start_server("examples.hello:app", "--workers", "2")
    server.wait_ready(workers=2)
    response = httpx.get(server.url("/"))
    assert response.status_code == 200
    assert response.text == "Hello, world!\n"
    assert response.headers["server"] == "asgi-master"
    assert "date" in response.headers


def test_master_and_workers_carry_process_titles(start_server):
    server = start_server("examples.hello:app", "--workers", "3")
    server.wait_ready(workers=3)
    master = psutil.Process(server.pid)
    assert master.cmdline()[0] == "asgi-master: master [examples.hello:app]"
    titles = sorted(p.cmdline()[0] for p in server.workers())
    assert titles == [f"asgi-master: worker {n} [examples.hello:app]" for n in (1, 2, 3)]


def test_proc_name_replaces_the_app_path_in_titles(start_server):
    server = start_server("examples.hello:app", "--workers", "1", "--proc-name", "shop")
    server.wait_ready()
    assert psutil.Process(server.pid).cmdline()[0] == "asgi-master: master [shop]"


def test_killed_worker_is_replaced_and_its_death_explained(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "2")
    server.wait_ready(workers=2)
    victim = server.workers()[0].pid
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: len(server.worker_pids() - {victim}) == 2, timeout=10, what="a replacement worker"
    )
    wait_for(lambda: server.log.count(") ready") >= 3, timeout=20, what="replacement ready")
    assert f"(pid {victim}) killed by SIGKILL (out of memory?" in server.log
    assert httpx.get(server.url("/")).status_code == 200


def test_term_lets_a_request_in_flight_finish_then_master_exits_0(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "1", "--graceful-timeout", "20")
    server.wait_ready()
    result: dict[str, httpx.Response] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("r", httpx.get(server.url("/slow?s=2"), timeout=30))
    )
    thread.start()
    wait_for(
        lambda: "/slow" not in server.log and _in_flight(server),
        timeout=10,
        what="request in flight",
    )
    server.signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert result["r"].status_code == 200
    assert result["r"].text == "slow done"
    assert result["r"].headers["connection"] == "close"
    assert server.wait_exit(timeout=30) == 0


def _in_flight(server) -> bool:
    # the worker holds an established connection from the client
    for worker in server.workers():
        for conn in worker.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == server.port:
                return True
    return False


def test_master_killed_takes_its_workers_and_frees_the_port(start_server):
    server = start_server("examples.hello:app", "--workers", "2")
    server.wait_ready(workers=2)
    workers = [p.pid for p in server.workers()]
    server.signal(signal.SIGKILL)
    server.proc.wait(timeout=10)

    def gone() -> bool:
        return not any(
            psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            for pid in workers
        )

    wait_for(gone, timeout=2, what="workers to exit after the master died")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))


def test_int_stops_fast_with_status_0(start_server):
    server = start_server("examples.hello:app", "--workers", "2")
    server.wait_ready(workers=2)
    server.signal(signal.SIGINT)
    assert server.wait_exit(timeout=15) == 0
    assert "Fast stop" in server.log


def test_lifespan_startup_failure_stops_the_server_with_the_apps_error(start_server):
    server = start_server("tests.apps.basic:failing_startup", "--workers", "1")
    status = server.wait_exit(timeout=30)
    assert status == 3
    assert "database unreachable: refusing to start" in server.log
    assert "no worker could boot" in server.log


def test_unimportable_app_at_boot_exits_2(start_server):
    server = start_server("tests.apps.broken_import:app", "--workers", "1")
    assert server.wait_exit(timeout=30) == 2
    assert "simulated broken deploy" in server.log


def test_lifespan_state_reaches_request_scopes(start_server):
    server = start_server("tests.apps.basic:app", "--workers", "1")
    server.wait_ready()
    worker_pid = server.workers()[0].pid
    assert httpx.get(server.url("/state")).text == str(worker_pid)


def test_ttin_and_ttou_change_the_number_of_workers(start_server):
    server = start_server("examples.hello:app", "--workers", "2")
    server.wait_ready(workers=2)
    server.signal(signal.SIGTTIN)
    wait_for(lambda: len(server.worker_pids()) == 3, timeout=10, what="a third worker")
    # standard signals do not queue: a second TTOU sent at once may merge with the first
    server.signal(signal.SIGTTOU)
    wait_for(lambda: len(server.worker_pids()) == 2, timeout=15, what="back to two workers")
    server.signal(signal.SIGTTOU)
    wait_for(lambda: len(server.worker_pids()) == 1, timeout=15, what="one worker left")


def test_blocked_worker_is_aborted_with_its_stack_logged_and_replaced(start_server):
    server = start_server("tests.apps.basic:blocking", "--workers", "1", "--timeout", "2")
    server.wait_ready()
    blocked = server.workers()[0].pid
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url("/block?s=60"), timeout=20)
    wait_for(
        lambda: server.worker_pids() - {blocked},
        timeout=20,
        what="replacement of the blocked worker",
    )
    log = server.log
    assert "sent no heartbeat" in log
    assert "killed by SIGABRT" in log
    assert "in blocking" in log  # faulthandler's stack names the app function


def test_unix_socket_bind_serves_and_is_removed_on_exit(start_server, tmp_path):
    path = tmp_path / "app.sock"
    server = start_server(
        "examples.hello:app", "--workers", "1", "--bind", f"unix:{path}", bind=False
    )
    server.wait_ready()
    assert oct(path.stat().st_mode & 0o777) == oct(0o666)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://localhost/").text == "Hello, world!\n"
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert not path.exists()


def test_inherited_fd_is_served(start_server, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    os.set_inheritable(listener.fileno(), True)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asgi_master",
                "examples.hello:app",
                "--workers",
                "1",
                "--bind",
                f"fd://{listener.fileno()}",
            ],
            cwd=ROOT,
            pass_fds=(listener.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: _get_ok(port), timeout=20, what="fd:// server answering")
        finally:
            pids = [c.pid for c in psutil.Process(proc.pid).children()]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            for pid in pids:
                assert (
                    not psutil.pid_exists(pid)
                    or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
                )
    finally:
        listener.close()


def _get_ok(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_pidfile_is_written_and_removed(start_server, tmp_path):
    pidfile = tmp_path / "master.pid"
    server = start_server("examples.hello:app", "--workers", "1", "--pidfile", str(pidfile))
    server.wait_ready()
    assert pidfile.read_text().strip() == str(server.pid)
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert not pidfile.exists()
