"""The PROXY protocol (HAProxy's, versions 1 and 2): ``header`` parses the header a connection
from a layer-4 proxy starts with (sans-IO), ``entry`` is the asyncio stage that reads it before
HTTP (and before TLS) and hands the connection on."""

from __future__ import annotations

from .header import Command, NeedData, ProxyHeader, ProxyHeaderError, parse_proxy_header

__all__ = ["Command", "NeedData", "ProxyHeader", "ProxyHeaderError", "parse_proxy_header"]
