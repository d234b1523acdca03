"""An app exercising the HTTP extensions and flow control, for the real-process tests."""

import asyncio
import os

from tests.apps.lifespan import with_lifespan


def _report(path: str, sent: int) -> None:
    """Write ``sent`` to ``path`` atomically: a test reads it while the app writes."""
    partial = path + ".partial"
    with open(partial, "w") as fh:
        fh.write(str(sent))
    os.replace(partial, path)


@with_lifespan
async def app(scope, receive, send):
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
        # streams up to 200 MB as fast as send() lets it, writing how many 64 KiB parts it has
        # sent to the file the query names (if any)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"z" * 65536
        for index in range(3200):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if query and index % 10 == 9:
                _report(query, index + 1)
        if query:
            _report(query, 3200)
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
