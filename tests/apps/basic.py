"""Small ASGI apps the integration tests run; each shows one behaviour."""

import asyncio
import os


async def _lifespan(receive, send, fail_startup=False, state=None):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if fail_startup:
                raise RuntimeError("database unreachable: refusing to start")
            if state is not None:
                state["booted_by"] = os.getpid()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _text(send, status, body, headers=()):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    """Routes: / (pid), /slow?s=N, /state, /raise, /raise-after-start, /no-response."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send, state=scope["state"])
    path = scope["path"]
    if path == "/slow":
        await asyncio.sleep(float(scope["query_string"].decode().partition("=")[2] or 1))
        return await _text(send, 200, b"slow done")
    if path == "/state":
        return await _text(send, 200, str(scope["state"].get("booted_by")).encode())
    if path == "/raise":
        raise ValueError("boom before start")
    if path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("boom between start and body")
    if path == "/no-response":
        return None
    if path == "/scope":
        keys = {
            k: scope[k]
            for k in (
                "path",
                "raw_path",
                "query_string",
                "root_path",
                "http_version",
                "method",
                "scheme",
                "client",
                "server",
            )
        }
        tls = scope.get("extensions", {}).get("tls")
        keys["tls_version"] = tls and tls.get("tls_version")
        return await _text(send, 200, repr(keys).encode())
    return await _text(send, 200, b"pid=%d" % os.getpid())


async def failing_startup(scope, receive, send):
    """Lifespan startup raises: the server must not start."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send, fail_startup=True)
    await _text(send, 200, b"never")


async def blocking(scope, receive, send):
    """/block blocks the event loop with time.sleep: the heartbeat stops."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["path"] == "/block":
        import time

        time.sleep(float(scope["query_string"].decode().partition("=")[2] or 60))
    await _text(send, 200, b"pid=%d" % os.getpid())
