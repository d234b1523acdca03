"""asgi-master: a pre-fork server for ASGI applications."""

__version__ = "0.1.0"
