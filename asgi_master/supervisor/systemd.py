"""systemd integration without libsystemd: ``sd_notify`` messages and socket activation.

Notify (``Type=notify``): ``$NOTIFY_SOCKET`` names a datagram socket, a path or, with a leading
``@``, an abstract-namespace address. Each message is a datagram of ``KEY=VALUE`` lines. The
master sends READY=1 once its first workers are READY, RELOADING=1 (with MONOTONIC_USEC, as
``Type=notify-reload`` requires) when a SIGHUP rollout starts and READY=1 when it ends, STOPPING=1
on stop, STATUS= lines an operator sees in ``systemctl status``, WATCHDOG=1 at half of
``$WATCHDOG_USEC``, and MAINPID= when a new master takes over after SIGUSR2.

Socket activation: systemd passes listening sockets as file descriptors 3..3+N-1 with
``$LISTEN_FDS=N`` and ``$LISTEN_PID`` set to the PID they are meant for (and names in
``$LISTEN_FDNAMES``). Both read their variables once and remove them from the environment, so
workers and the application do not act on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import MutableMapping
from typing import Final

log = logging.getLogger("asgi_master.error")

#: the first file descriptor of socket activation (``SD_LISTEN_FDS_START``)
LISTEN_FDS_START: Final = 3


class Notifier:
    """Sends ``sd_notify`` messages; every method is a no-op when not run by systemd."""

    def __init__(self, address: str | None, watchdog_usec: int = 0) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._target: str | bytes | None = None
        self._last_status = ""
        self._next_watchdog = 0.0
        if address:
            self._open(address)

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> Notifier:
        """Take ``NOTIFY_SOCKET`` (and the watchdog variables meant for us) out of ``environ``."""
        address = environ.pop("NOTIFY_SOCKET", None)
        usec_text = environ.pop("WATCHDOG_USEC", "")
        pid_text = environ.pop("WATCHDOG_PID", "")
        usec = int(usec_text) if usec_text.isdigit() else 0
        if pid_text and pid_text != str(os.getpid()):
            usec = 0  # the watchdog is meant for another process
        return cls(address, usec)

    def _open(self, address: str) -> None:
        if address.startswith("@"):
            self._target = "\0" + address[1:]
        elif address.startswith("/"):
            self._target = address
        else:
            log.warning(
                "NOTIFY_SOCKET=%s is not supported (only paths and @abstract names); "
                "systemd will not be notified",
                address,
            )
            return
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """Messages are being sent to a notify socket."""
        return self._sock is not None

    def send(self, *lines: str) -> None:
        """Send one datagram; failures are logged (at debug) and otherwise ignored."""
        if self._sock is None or self._target is None:
            return
        try:
            self._sock.sendto("\n".join(lines).encode("utf-8", "replace"), self._target)
        except OSError as exc:
            log.debug("sd_notify %r failed: %s", lines, exc)

    def ready(self, status: str) -> None:
        """Startup or a reload is complete."""
        self._last_status = status
        self.send("READY=1", f"STATUS={status}")

    def reloading(self, status: str) -> None:
        """A reload starts; systemd wants the CLOCK_MONOTONIC time of the request."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._last_status = status
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", f"STATUS={status}")

    def stopping(self, status: str) -> None:
        """The service is stopping."""
        self._last_status = status
        self.send("STOPPING=1", f"STATUS={status}")

    def main_pid(self, pid: int, status: str) -> None:
        """Another process is now the service's main process (SIGUSR2 upgrade)."""
        self._last_status = status
        self.send(f"MAINPID={pid}", f"STATUS={status}")

    def status(self, status: str) -> None:
        """Update the one-line status, if it changed."""
        if status != self._last_status:
            self._last_status = status
            self.send(f"STATUS={status}")

    def watchdog_due_in(self, now: float) -> float | None:
        """Seconds until the next WATCHDOG=1 is due (None: no watchdog)."""
        if not self.watchdog_usec or self._sock is None:
            return None
        return max(0.0, self._next_watchdog - now)

    def keepalive(self, now: float) -> None:
        """Send WATCHDOG=1 if half the watchdog interval has passed since the last one."""
        if self.watchdog_usec and self._sock is not None and now >= self._next_watchdog:
            self.send("WATCHDOG=1")
            self._next_watchdog = now + self.watchdog_usec / 2e6

    def environ_for(self, pid: int) -> dict[str, str]:
        """What a new master (PID ``pid``, after SIGUSR2) needs to reach systemd itself."""
        env: dict[str, str] = {}
        if self.address:
            env["NOTIFY_SOCKET"] = self.address
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
            env["WATCHDOG_PID"] = str(pid)
        return env

    def close(self) -> None:
        """Close the socket (in forked workers)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def take_listen_fds(environ: MutableMapping[str, str]) -> list[tuple[int, str]]:
    """Sockets passed by systemd socket activation, as ``(fd, name)``; empty if none are meant
    for this process. The ``LISTEN_*`` variables are removed from ``environ`` either way."""
    pid_text = environ.pop("LISTEN_PID", "")
    count_text = environ.pop("LISTEN_FDS", "")
    names_text = environ.pop("LISTEN_FDNAMES", "")
    if pid_text != str(os.getpid()) or not count_text.isdigit():
        return []
    count = int(count_text)
    names = names_text.split(":") if names_text else []
    found = []
    for index in range(count):
        fd = LISTEN_FDS_START + index
        found.append((fd, names[index] if index < len(names) else "unknown"))
    return found
