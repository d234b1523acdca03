"""HTTP/2 (RFC 9113) on the server. The core is sans-IO: ``Connection`` reads frames and
writes them, ``ServerStream`` carries one request's response (see connection.py for the theory
of operation and state.py for the state tables). Around it: protocol.py (``H2Protocol``, the
asyncio adapter: transport, app tasks, timers, drain), request_stream.py (``H2Stream``, a
request's ``worker.stream.Stream``), websocket.py (RFC 8441), handover.py (how a connection
comes to HTTP/2) and entry.py (when the worker loads all that). Nothing is imported here, so
that importing ``limits`` (the worker's settings do) does not load the core."""
