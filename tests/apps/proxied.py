"""An app that answers what its scope says of the connection, as JSON: client, server, scheme,
and the ``proxy_protocol`` extension (``unique_id`` as hex)."""

import json
import sys

from tests.apps.lifespan import with_lifespan


@with_lifespan
async def app(scope, receive, send):
    told = scope["extensions"].get("proxy_protocol")
    if told is not None and told["command"] == "LOCAL":
        # a health check's connection (v2 LOCAL): said on stderr, which the tests read
        print(f"proxied app: LOCAL connection for {scope['path']}", file=sys.stderr, flush=True)
    if told is not None and told.get("unique_id") is not None:
        told = {**told, "unique_id": told["unique_id"].hex()}
    report = {
        "client": scope["client"],
        "server": scope["server"],
        "scheme": scope["scheme"],
        "proxy_protocol": told,
        "tls": "tls" in scope["extensions"],
    }
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(report)})
        await send({"type": "websocket.close", "code": 1000})
        return
    body = json.dumps(report).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
