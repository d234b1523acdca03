"""The master's Prometheus endpoint, scraped from a running server."""

from __future__ import annotations

import os
import re
import signal
import socket

import httpx
import pytest

from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.timeout(60)


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in the metrics"
    return float(match.group(1))


def test_metrics_report_workers_requests_restarts_and_durations(start_server):
    port = free_port()
    server = start_server(
        "tests.apps.basic:app", "--workers", "2", "--metrics-bind", f"127.0.0.1:{port}"
    )
    server.wait_ready(workers=2)
    metrics = f"http://127.0.0.1:{port}/metrics"
    for _ in range(20):
        assert httpx.get(server.url("/")).status_code == 200
    wait_for(
        lambda: sample(httpx.get(metrics).text, "asgi_master_requests_total") >= 20,
        timeout=10,
        what="requests counted in the metrics",
    )
    text = httpx.get(metrics).text
    assert sample(text, 'asgi_master_workers{state="ready"}') == 2
    assert sample(text, 'asgi_master_request_duration_seconds_bucket{le="+Inf"}') >= 20
    assert re.search(
        r'^asgi_master_worker_rss_bytes\{slot="1",pid="\d+"\} [1-9]', text, re.MULTILINE
    )
    os.kill(server.workers()[0].pid, signal.SIGKILL)
    wait_for(
        lambda: 'asgi_master_worker_exits_total{reason="crashed"} 1' in httpx.get(metrics).text,
        timeout=10,
        what="the crash counted",
    )
    server.signal(signal.SIGHUP)
    wait_for(
        lambda: 'asgi_master_reloads_total{result="ok"} 1' in httpx.get(metrics).text,
        timeout=40,
        what="the reload counted",
    )
    assert sample(httpx.get(metrics).text, "asgi_master_generation") == 2
    assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404


def test_a_silent_scraper_does_not_stall_the_master(start_server):
    port = free_port()
    server = start_server(
        "tests.apps.basic:app", "--workers", "1", "--metrics-bind", f"127.0.0.1:{port}"
    )
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", port)):
        # connected, says nothing: the master must go on supervising and answering others
        server.signal(signal.SIGTTIN)
        wait_for(lambda: len(server.workers()) == 2, timeout=15, what="TTIN handled")
        assert "asgi_master_workers" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
