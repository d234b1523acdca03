"""The addresses of a connection's scopes (``scope.ConnectionInfo.of``), read from real uvloop
transports: IPv4, IPv6 (the port of a four-element address) and AF_UNIX (the server's path, no
client)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import uvloop

from asgi_master.worker.scope import ConnectionInfo


class _Capture(asyncio.Protocol):
    def __init__(self, infos: list[ConnectionInfo]) -> None:
        self.infos = infos

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.infos.append(ConnectionInfo.of(transport, {"x": {}}))


async def _accept_one(family: int, address: object) -> tuple[ConnectionInfo, object, object]:
    """Serve one connection at ``address``; the server side's info, the client socket's local
    address and the listener's address."""
    loop = asyncio.get_running_loop()
    infos: list[ConnectionInfo] = []
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)
    server = await loop.create_server(lambda: _Capture(infos), sock=listener)
    client = socket.socket(family, socket.SOCK_STREAM)
    client.setblocking(False)
    try:
        await loop.sock_connect(client, listener.getsockname())
        for _ in range(200):
            if infos:
                break
            await asyncio.sleep(0.005)
        return infos[0], client.getsockname(), listener.getsockname()
    finally:
        client.close()
        server.close()
        await server.wait_closed()


def test_ipv4_client_and_server_addresses():
    info, local, bound = uvloop.run(_accept_one(socket.AF_INET, ("127.0.0.1", 0)))
    assert info.client == ("127.0.0.1", local[1])
    assert info.server == ("127.0.0.1", bound[1])
    assert info.scheme == "http"
    assert info.extensions == {"x": {}}


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_ipv6_addresses_are_host_and_port():
    try:
        info, local, bound = uvloop.run(_accept_one(socket.AF_INET6, ("::1", 0)))
    except OSError as exc:  # ::1 not configured here
        pytest.skip(f"no IPv6 loopback: {exc}")
    assert info.client == ("::1", local[1])
    assert info.server == ("::1", bound[1])


def test_unix_socket_server_is_the_path_and_no_client(tmp_path: Path):
    path = str(tmp_path / "app.sock")
    info, _, _ = uvloop.run(_accept_one(socket.AF_UNIX, path))
    assert info.client is None
    assert info.server == (path, None)


def test_a_transport_without_addresses_has_none():
    class Bare(asyncio.Transport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return default

    info = ConnectionInfo.of(Bare(), {})
    assert (info.client, info.server, info.scheme) == (None, None, "http")
