"""What a worker has in memory before it serves anything: what the master imports (the worker is
forked from it) and what the worker's start adds. Protocols and options that a configuration
may never use are loaded by their first use, not by every process; each case runs in a fresh
interpreter, since this one has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: imported by the master and its workers at start, on the default configuration
START = """
import json, ssl, sys, dataclasses
import asgi_master.__main__, asgi_master.supervisor.master, asgi_master.worker.process
from asgi_master.config import Config
from asgi_master.worker.context import WorkerSettings
from asgi_master.worker.h2.entry import entry_points
from asgi_master.worker.ws import UPGRADES

settings = WorkerSettings.from_config(Config(**json.loads(sys.argv[1])))
if sys.argv[2] == "tls":
    settings = dataclasses.replace(settings, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
upgrades, handover = entry_points(settings, UPGRADES)
print(json.dumps(sorted(sys.modules)))
"""

#: loaded only by their first use (or their option)
LAZY = {
    "asgi_master.worker.h2.handover": "the HTTP/2 core (plain ports: the first h2c connection)",
    "asgi_master.worker.h2.connection": "the HTTP/2 core",
    "hpack": "HPACK's tables, for the HTTP/2 core",
    "asgi_master.worker.ws.upgrade": "WebSocket (the first upgrade)",
    "wsproto": "WebSocket",
    "h11": "the fallback parser (the first head the fast path declines) and wsproto",
    "dotenv": "env_file",
    "psutil": "max_worker_memory and metrics_bind (the master's)",
    "logging.config": "log_config",
    "email": "nothing: the date header is formatted without it",
    "importlib.resources": "nothing: the build's import hook needs no importlib.abc",
    "html": "debug pages",
}


def loaded(config: dict[str, object], listener: str = "plain") -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", START, json.dumps(config), listener],
        capture_output=True,
        text=True,
        check=True,
        timeout=50,
    ).stdout
    return set(json.loads(out))


def test_a_default_worker_loads_no_protocol_or_option_it_has_not_used():
    modules = loaded({})
    assert "asgi_master.worker.http.protocol" in modules  # (the check sees what is loaded)
    early = {name: why for name, why in LAZY.items() if name in modules}
    assert early == {}


@pytest.mark.parametrize(
    ("config", "listener"), [({}, "tls"), ({"http2_only": True}, "plain")], ids=["tls", "h2c-only"]
)
def test_a_worker_that_will_speak_http2_loads_it_at_start(config, listener):
    modules = loaded(config, listener)
    assert {"asgi_master.worker.h2.handover", "hpack"} <= modules
    assert "wsproto" not in modules


def test_a_worker_without_http2_never_loads_it():
    modules = loaded({"http2": False}, "tls")
    assert "asgi_master.worker.h2.handover" not in modules
