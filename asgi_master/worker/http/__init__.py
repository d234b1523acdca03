"""HTTP/1.1: sans-IO reader (fast path + h11) and writer, the ASGI cycle, the asyncio adapter."""

from .protocol import HTTPProtocol

__all__ = ["HTTPProtocol"]
