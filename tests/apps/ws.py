"""WebSocket apps the integration tests run; the path picks the behaviour.

Routes of ``app``: / echo (text and bytes), /subprotocol (accepts the client's last offer),
/headers (accept with an extra header), /deny (close before accept: 403), /deny-body (a custom
denial response), /close (accepts, then closes with 4001 "bye" on any message), /record (echo,
and writes the disconnect it got to the file named by the query string), /raise (raises before
accept), /scope (sends the scope's keys back as text), /flood?count=N&file=F (sends N
messages of 64 KiB as fast as ``send`` returns, writing how many it has sent to F).
"""

import json
from pathlib import Path
from urllib.parse import parse_qs, unquote

from tests.apps.lifespan import with_lifespan


async def _echo(receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return message
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def _flood(scope, send):
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    progress = Path(query["file"])
    partial = progress.with_suffix(".partial")

    def report(sent):  # atomically: the test reads it while we write
        partial.write_text(str(sent))
        partial.replace(progress)

    chunk = b"x" * 65536
    for index in range(int(query["count"])):
        await send({"type": "websocket.send", "bytes": chunk})
        if index % 10 == 9:
            report(index + 1)
    report(query["count"])
    await send({"type": "websocket.close"})


@with_lifespan
async def app(scope, receive, send):
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain http"})
        return None
    path = scope["path"]
    assert (await receive())["type"] == "websocket.connect"
    if path == "/raise":
        raise RuntimeError("refusing to accept")
    if path == "/deny":
        return await send({"type": "websocket.close"})
    if path == "/deny-body":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"no token")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})
        return None
    if path == "/subprotocol":
        await send({"type": "websocket.accept", "subprotocol": scope["subprotocols"][-1]})
    elif path == "/headers":
        await send({"type": "websocket.accept", "headers": [(b"x-session", b"42")]})
    else:
        await send({"type": "websocket.accept"})
    if path == "/scope":
        keys = {
            k: scope[k]
            for k in ("type", "scheme", "path", "query_string", "subprotocols", "http_version")
        }
        keys["query_string"] = keys["query_string"].decode()
        keys["extensions"] = sorted(scope["extensions"])
        await send({"type": "websocket.send", "text": json.dumps(keys)})
    if path == "/flood":
        return await _flood(scope, send)
    if path == "/close":
        await receive()
        await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
        return None
    disconnect = await _echo(receive, send)
    if path == "/record":
        target = Path(unquote(scope["query_string"].decode()))
        target.write_text(json.dumps(disconnect))
    return None
