"""Apps that report the context variables a request finds when it starts: each sets its own
request id, so a request that can see another's context says so."""

import contextvars
import json

#: set by every request and WebSocket session to its own path; a fresh request finds None
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: set when the module is imported (the worker's boot): every request finds "boot"
deployment: contextvars.ContextVar[str] = contextvars.ContextVar("deployment", default="unset")
deployment.set("boot")


async def app(scope, receive, send):
    """HTTP: reads the whole body, answers JSON {found, deployment, path, body}; WebSocket: sends
    the same as one text message; lifespan: sets request_id, and /lifespan says what it found."""
    found = request_id.get()
    if scope["type"] == "lifespan":
        request_id.set("lifespan")
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["lifespan_found"] = found
                scope["state"]["lifespan_deployment"] = deployment.get()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    request_id.set(scope["path"])
    report = {"found": found, "deployment": deployment.get(), "path": scope["path"]}
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(report)})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["path"] == "/lifespan":
        report["lifespan_found"] = scope["state"].get("lifespan_found")
        report["lifespan_deployment"] = scope["state"].get("lifespan_deployment")
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    report["body"] = size
    # the value set above is still ours when we answer (nothing reset it under us)
    report["still_ours"] = request_id.get() == scope["path"]
    body = json.dumps(report).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
