"""The app the HTTP/2 real-process tests run; the path picks the behaviour.

HTTP routes: / (``hello <http_version>``), /echo (the request body back), /read (reads the
whole body, then answers how long it was), /scope (the scope's
keys as JSON), /stream?parts=N&size=S (N body parts of S bytes), /no-read (answers without
reading its body), /hold?file=F (writes ``started`` to F, reads until ``http.disconnect``, then
waits until it is cancelled and writes which came), /stall?file=F (writes ``started`` to F and
waits without reading, until cancelled), /sleep?s=N, /trailers, /early-hint, /file?path=P
(pathsend), /raise, /raise-after-body, /rss (the worker's resident memory, KiB), /page (an HTML
page that opens a WebSocket to /ws and shows the echo of a message in its title).
WebSocket: /ws echoes text and bytes; /ws-close?file=F echoes and writes the disconnect code
it got to F; /ws-deny answers the handshake with a 403.
"""

import asyncio
import json
import os
from pathlib import Path
from urllib.parse import parse_qs

from tests.apps.lifespan import complete_lifespan

PAGE = b"""<!doctype html>
<html><head><title>waiting</title></head><body>
<script>
const socket = new WebSocket(`wss://${location.host}/ws`);
socket.onopen = () => socket.send("echo over h2");
socket.onmessage = (event) => { document.title = "got: " + event.data; socket.close(); };
socket.onerror = () => { document.title = "error"; };
</script></body></html>
"""


def _query(scope):
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}


async def _read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _respond(send, body, status=200, headers=(), content_type=b"text/plain"):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _websocket(scope, receive, send):
    path = scope["path"]
    await receive()  # websocket.connect
    if path == "/ws-deny":
        await send({"type": "websocket.close"})
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            if path == "/ws-close":
                Path(_query(scope)["file"]).write_text(str(message["code"]))
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def _hold(scope, receive):
    record = Path(_query(scope)["file"])
    record.write_text("started")
    try:
        message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()
        record.write_text("disconnected")
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        record.write_text("cancelled")
        raise


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await complete_lifespan(receive, send)
    if scope["type"] == "websocket":
        return await _websocket(scope, receive, send)
    path = scope["path"]
    query = _query(scope)
    if path == "/":
        return await _respond(send, b"hello " + scope["http_version"].encode())
    if path == "/echo":
        return await _respond(send, await _read_body(receive))
    if path == "/read":
        return await _respond(send, b"read %d bytes" % len(await _read_body(receive)))
    if path == "/scope":
        keys = {
            k: scope[k]
            for k in ("type", "http_version", "method", "scheme", "path", "query_string")
        }
        keys["query_string"] = keys["query_string"].decode()
        keys["raw_path"] = scope["raw_path"].decode()
        keys["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
        keys["client"] = list(scope["client"]) if scope["client"] else None
        keys["extensions"] = sorted(scope.get("extensions") or {})
        return await _respond(send, json.dumps(keys).encode(), content_type=b"application/json")
    if path == "/stream":
        parts, size = int(query.get("parts", 16)), int(query.get("size", 65536))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(parts):
            # a new object each time: a server that buffers what it cannot send holds them all
            await send({"type": "http.response.body", "body": b"x" * size, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return None
    if path == "/no-read":
        return await _respond(send, b"not read")
    if path == "/hold":
        return await _hold(scope, receive)
    if path == "/stall":
        Path(query["file"]).write_text("started")
        await asyncio.sleep(3600)
    if path == "/sleep":
        await asyncio.sleep(float(query.get("s", 1)))
        return await _respond(send, b"slept")
    if path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"body"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})
        return None
    if path == "/early-hint":
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        return await _respond(send, b"hinted")
    if path == "/file":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": query["path"]})
        return None
    if path == "/raise":
        raise RuntimeError("boom before the response")
    if path == "/raise-after-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("boom after the first part")
    if path == "/rss":
        with open(f"/proc/{os.getpid()}/status") as fh:
            rss = next(line.split()[1] for line in fh if line.startswith("VmRSS"))
        return await _respond(send, rss.encode())
    if path == "/page":
        return await _respond(send, PAGE, content_type=b"text/html; charset=utf-8")
    return await _respond(send, b"not found", status=404)
