"""Real framework apps served by asgi-master; each has the same five routes.

    GET /json    -> JSON, including a value set by lifespan startup (or app start for WSGI)
    GET /stream  -> a streamed body: "chunk 0\\n" .. "chunk 4\\n"
    GET /file    -> static/hello.txt as a file response (pathsend where the framework uses it)
    WS  /ws      -> echoes text messages (not Flask: WSGI has no WebSocket)

Run one with e.g. ``asgi-master examples.frameworks.starlette_app:app``.
"""

from pathlib import Path

#: the file every app serves at /file
STATIC_FILE = Path(__file__).resolve().parent / "static" / "hello.txt"
#: how many chunks /stream sends
CHUNKS = 5
