"""Django under asgi-master, as a one-module project.

Django's ASGI handler serves HTTP only (it refuses lifespan and WebSocket scopes), so a small ASGI
router sits in front of it: lifespan startup puts a value in the lifespan state (which the
server copies into every request's ``scope["state"]``), and ``/ws`` is a plain-ASGI echo.
Channels does the same routing for real projects.
"""

from collections.abc import AsyncIterator
from typing import Any

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import FileResponse, HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path

from . import CHUNKS, STATIC_FILE

settings.configure(
    DEBUG=False,
    SECRET_KEY="example-only-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)
django.setup()


async def json_endpoint(request: HttpRequest) -> JsonResponse:
    state = request.scope["state"]  # type: ignore[attr-defined]  # ASGIRequest
    return JsonResponse({"framework": "django", "started": state["started"]})


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def file(request: HttpRequest) -> FileResponse:
    return FileResponse(open(STATIC_FILE, "rb"), content_type="text/plain")


urlpatterns = [path("json", json_endpoint), path("stream", stream), path("file", file)]

django_asgi = get_asgi_application()


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["started"] = "lifespan startup ran"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send(
                {
                    "type": "websocket.send",
                    "text": message.get("text"),
                    "bytes": message.get("bytes"),
                }
            )
        elif message["type"] == "websocket.disconnect":
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The router: lifespan and /ws here, every HTTP request to Django."""
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "websocket" and scope["path"] == "/ws":
        await echo(scope, receive, send)
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    else:
        await django_asgi(scope, receive, send)
