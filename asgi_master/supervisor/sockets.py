"""Binding the listening sockets the master owns and every worker inherits."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass

from ..config import BindSpec, Config


class BindError(Exception):
    """A listen address could not be bound; the message is one line."""


@dataclass(slots=True)
class Listener:
    """One listening socket and what to clean up when the master exits."""

    spec: BindSpec
    sock: socket.socket
    #: a UNIX socket file this master created (removed on exit)
    created_path: str | None = None
    #: the name systemd gave a socket-activated socket (``LISTEN_FDNAMES``)
    name: str | None = None

    def describe(self) -> str:
        """The address as an operator wrote it (or, for a passed-in socket, where it listens)."""
        if self.spec.kind == "tcp":
            return _address(self.sock)
        if self.spec.kind == "fd":
            named = f", name {self.name}" if self.name else ""
            return f"fd://{self.spec.fd} ({_address(self.sock)}{named})"
        return str(self.spec)

    def close(self, unlink: bool = True) -> None:
        """Close the socket; remove the UNIX socket file it created unless ``unlink`` is False
        (another master goes on serving on it after an upgrade)."""
        self.sock.close()
        if self.created_path and unlink:
            with contextlib.suppress(OSError):
                os.unlink(self.created_path)


def _address(sock: socket.socket) -> str:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        text = name.decode(errors="replace") if isinstance(name, bytes) else name
        return f"unix:{text or '(unnamed)'}"
    host, port = name[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_tcp(spec: BindSpec, backlog: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            spec.host, spec.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise BindError(f"cannot resolve {spec.host!r}: {exc.strerror}") from None
    family, type_, proto, _, address = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_unix(spec: BindSpec, backlog: int, mode: int) -> socket.socket:
    path = spec.path
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # stale: nothing listens on it
            else:
                raise OSError(errno.EADDRINUSE, "another server is listening on it")
            finally:
                probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _adopt_fd(spec: BindSpec) -> socket.socket:
    try:
        sock = socket.socket(fileno=spec.fd)
    except OSError as exc:
        raise OSError(exc.errno, f"file descriptor {spec.fd} is not an open socket") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    ):
        sock.detach()
        raise OSError(errno.EINVAL, "not a listening stream socket")
    return sock


def bind_all(config: Config) -> list[Listener]:
    """Bind every ``bind`` address; on any failure close what was bound and raise BindError."""
    listeners: list[Listener] = []
    for spec in config.bind:
        try:
            if spec.kind == "tcp":
                listeners.append(Listener(spec, _bind_tcp(spec, config.backlog)))
            elif spec.kind == "unix":
                sock = _bind_unix(spec, config.backlog, config.unix_socket_mode)
                listeners.append(Listener(spec, sock, created_path=spec.path))
            else:
                listeners.append(Listener(spec, _adopt_fd(spec)))
        except OSError as exc:
            for listener in listeners:
                listener.close()
            raise BindError(f"cannot listen on {spec}: {exc.strerror or exc}") from None
    return listeners


def adopt_all(fds: list[tuple[int, str | None]]) -> list[Listener]:
    """Listeners for sockets handed over as file descriptors (systemd socket activation, or the
    old master on SIGUSR2), in the order given; BindError if one is not a listening socket."""
    listeners: list[Listener] = []
    for fd, name in fds:
        spec = BindSpec("fd", fd=fd)
        try:
            listeners.append(Listener(spec, _adopt_fd(spec), name=name))
            os.set_inheritable(fd, False)  # not leaked into what the app spawns
        except OSError as exc:
            for listener in listeners:
                listener.close()
            raise BindError(f"cannot listen on {spec}: {exc.strerror or exc}") from None
    return listeners
