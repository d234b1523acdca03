"""An app that reads request bodies: ``POST /upload`` answers the size it read; with
``?pause=N`` it first sleeps N seconds before each ``receive`` after the first (an app slow to
read, whose body waits in the server's buffers: flow control, not a slow client); with
``?early=1`` it starts a chunked response before it reads."""

import asyncio

from tests.apps.lifespan import with_lifespan


@with_lifespan
async def app(scope, receive, send):
    query = dict(p.partition("=")[::2] for p in scope["query_string"].decode().split("&") if p)
    pause = float(query.get("pause", 0))
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    if query.get("early"):
        await send(start)
        await send({"type": "http.response.body", "body": b"reading\n", "more_body": True})
    size = 0
    first = True
    while True:
        if pause and not first:
            await asyncio.sleep(pause)
        first = False
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if not query.get("early"):
        await send(start)
    await send({"type": "http.response.body", "body": b"%d" % size})
