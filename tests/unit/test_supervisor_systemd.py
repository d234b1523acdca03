"""Socket activation's environment: ``LISTEN_FDS`` read once, for our PID only, then removed.
(The real ``systemd-socket-activate`` run is in tests/integration/test_systemd.py.)"""

from __future__ import annotations

import os

from asgi_master.supervisor.systemd import take_listen_fds


def test_listen_fds_meant_for_another_process_are_ignored_and_removed():
    environ = {"LISTEN_PID": "1", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin", "X": "y"}
    assert take_listen_fds(environ) == []
    assert environ == {"X": "y"}


def test_listen_fds_for_us_are_numbered_from_3_with_their_names():
    environ = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web"}
    assert take_listen_fds(environ) == [(3, "web"), (4, "unknown")]
    assert environ == {}
