"""Flask (WSGI) under asgi-master with ``interface = "wsgi"``: JSON, streaming, send_file.

WSGI has no lifespan and no WebSocket; the state /json reports is set when the app is built.
"""

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, send_file

from . import CHUNKS, STATIC_FILE

app = Flask(__name__)
app.config["STARTED"] = "set when the app was built"


@app.get("/json")
def json_endpoint() -> dict[str, Any]:
    return {"framework": "flask", "started": app.config["STARTED"]}


@app.get("/stream")
def stream() -> Response:
    def chunks() -> Iterator[bytes]:
        for i in range(CHUNKS):
            yield f"chunk {i}\n".encode()

    return Response(chunks(), mimetype="text/plain")


@app.get("/file")
def file() -> Response:
    return send_file(STATIC_FILE, mimetype="text/plain")
