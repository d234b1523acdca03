"""Plain ASGI 3 applications used by every benchmarked server.

They avoid any framework so that the numbers measure the server, not the app.
Each callable handles the ``lifespan`` scope itself, so every server (uvicorn,
hypercorn, gunicorn, granian, asgi-master) can load any of them directly, e.g.
``bench.apps:hello`` from the repository root.

``app`` routes by path so that one server start serves every workload:

* HTTP ``/stream`` -> :func:`stream`
* HTTP ``/upload`` -> :func:`upload`
* any other HTTP path -> :func:`hello`
* any WebSocket path -> :func:`ws_echo`
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HELLO_BODY = b"Hello, world!"
HELLO_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(HELLO_BODY)).encode()),
]

STREAM_CHUNK_SIZE = 64 * 1024
STREAM_CHUNKS = 16
# Built once: the benchmark measures the server moving bytes, not the app making them.
STREAM_CHUNK = b"x" * STREAM_CHUNK_SIZE
STREAM_HEADERS = [
    (b"content-type", b"application/octet-stream"),
    (b"content-length", str(STREAM_CHUNK_SIZE * STREAM_CHUNKS).encode()),
]


async def _lifespan(receive: Receive, send: Send) -> None:
    """Answer startup and shutdown so servers that run lifespan are satisfied."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 200 text/plain ``Hello, world!`` with a content-length."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
    await send({"type": "http.response.body", "body": HELLO_BODY})


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 1 MiB as 16 body messages of 64 KiB each (``more_body``)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
    for index in range(STREAM_CHUNKS):
        await send(
            {
                "type": "http.response.body",
                "body": STREAM_CHUNK,
                "more_body": index < STREAM_CHUNKS - 1,
            }
        )


async def upload(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the whole request body, then echo it back.

    The byte count is also sent in an ``x-body-length`` header, so a client can
    check the server saw every byte without comparing the echoed body.
    """
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    chunks: list[bytes] = []
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    body = b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(len(body)).encode()),
                (b"x-body-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept a WebSocket and echo every text or bytes message until disconnect."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "websocket":
        # Plain HTTP to the echo app: say so instead of hanging.
        await send({"type": "http.response.start", "status": 426, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message.get("text") or ""})
        elif kind == "websocket.disconnect":
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Route to the workload apps by scope type and path (see module docstring)."""
    kind = scope["type"]
    if kind == "http":
        path = scope["path"]
        if path == "/stream":
            await stream(scope, receive, send)
        elif path == "/upload":
            await upload(scope, receive, send)
        else:
            await hello(scope, receive, send)
    elif kind == "websocket":
        await ws_echo(scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(receive, send)
