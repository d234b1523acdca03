"""An app exercising the HTTP extensions and flow control, for the real-process tests."""

import asyncio
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    query = scope["query_string"].decode()
    if path == "/file":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        await send({"type": "http.response.pathsend", "path": query})
        return
    if path == "/firehose":
        # streams up to 200 MB as fast as send() lets it; returns how far it got
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"z" * 65536
        for _ in range(3200):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow-reader":
        # reads the body slowly: the server must not buffer what the app has not taken
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
            await asyncio.sleep(0.01)
        body = b"%d" % total
    elif path == "/rss":
        with open(f"/proc/{os.getpid()}/status") as fh:
            rss = next(line.split()[1] for line in fh if line.startswith("VmRSS"))
        body = rss.encode()
    elif path == "/sleep":
        await asyncio.sleep(float(query or 1))
        body = b"slept"
    else:
        body = b"ok"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})
