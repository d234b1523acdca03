"""Real frameworks under asgi-master, through real clients: Starlette, FastAPI, Django, Quart
(ASGI) and Flask (WSGI, through ``interface = "wsgi"``).

Every app in examples/frameworks/ has the same routes: /json (reads what lifespan startup set),
/stream, /file (a file response: Starlette's FileResponse uses ``http.response.pathsend``, which
the server advertises) and the WebSocket echo /ws. A framework that is not installed is skipped
(``pip install -e '.[frameworks]'``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.frameworks import CHUNKS, STATIC_FILE
from tests.conftest import Server, free_port

pytestmark = pytest.mark.timeout(90)

#: framework -> (module that must import, app path, extra flags)
FRAMEWORKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "starlette": ("starlette", "examples.frameworks.starlette_app:app", ()),
    "fastapi": ("fastapi", "examples.frameworks.fastapi_app:app", ()),
    "django": ("django", "examples.frameworks.django_app:app", ()),
    "quart": ("quart", "examples.frameworks.quart_app:app", ()),
    "flask": ("flask", "examples.frameworks.flask_app:app", ("--interface", "wsgi")),
}
WEBSOCKET_FRAMEWORKS = [name for name in FRAMEWORKS if name != "flask"]
HAVE_WS_LAYER = importlib.util.find_spec("asgi_master.worker.ws") is not None


def _require(framework: str) -> None:
    module = FRAMEWORKS[framework][0]
    pytest.importorskip(module, reason=f"{module} is not installed (extra 'frameworks')")
    if framework == "flask":
        pytest.importorskip("a2wsgi", reason="a2wsgi is not installed (extra 'wsgi')")


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Server]]:
    """One single-worker server per framework, shared by that framework's tests."""
    framework = request.param
    _require(framework)
    _, app, extra = FRAMEWORKS[framework]
    port = free_port()
    server = Server(
        [app, "--workers", "1", "--bind", f"127.0.0.1:{port}", *extra],
        Path(tmp_path_factory.mktemp(framework)),
        port=port,
    )
    try:
        server.wait_ready(timeout=60)
        yield framework, server
    finally:
        server.cleanup()


def test_json_endpoint_sees_the_state_set_at_startup(served):
    framework, server = served
    response = httpx.get(server.url("/json"), timeout=20)
    assert response.status_code == 200, server.log
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["framework"] == framework
    expected = "set when the app was built" if framework == "flask" else "lifespan startup ran"
    assert body["started"] == expected


def test_streaming_response_arrives_whole_in_order(served):
    _, server = served
    with httpx.stream("GET", server.url("/stream"), timeout=20) as response:
        assert response.status_code == 200
        body = b"".join(response.iter_bytes())
    assert body == b"".join(f"chunk {i}\n".encode() for i in range(CHUNKS))


def test_file_response_has_the_file_and_its_length(served):
    _, server = served
    response = httpx.get(server.url("/file"), timeout=20)
    assert response.status_code == 200, server.log
    assert response.content == STATIC_FILE.read_bytes()
    assert int(response.headers["content-length"]) == STATIC_FILE.stat().st_size
    # a second request on the same keep-alive connection is framed right after the file
    with httpx.Client(timeout=20) as client:
        assert client.get(server.url("/file")).content == STATIC_FILE.read_bytes()
        assert client.get(server.url("/json")).status_code == 200


@pytest.mark.skipif(not HAVE_WS_LAYER, reason="asgi_master.worker.ws is not there yet")
def test_websocket_echo(served):
    framework, server = served
    if framework not in WEBSOCKET_FRAMEWORKS:
        pytest.skip(f"{framework} is WSGI: no WebSocket")
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=20, close_timeout=10) as ws:
        for text in ("hello", "ünïcode", "x" * 70_000):
            ws.send(text)
            assert ws.recv(timeout=20) == text


def test_no_app_errors_were_logged(served):
    _, server = served
    httpx.get(server.url("/json"), timeout=20)
    assert "Traceback" not in server.log
    assert "Error" not in server.log.replace("error_log", "")
