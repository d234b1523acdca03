"""The USR2 hand-over's phases, as each side of an upgrade sees them."""

from __future__ import annotations

import os

import pytest

from asgi_master.supervisor.systemd import Notifier
from asgi_master.supervisor.upgrade import (
    HandOver,
    HandOverError,
    Launch,
    Phase,
    Takeover,
    take_takeover,
)

LAUNCH = Launch(argv=("app:app",), cwd="/")


def test_a_master_not_started_from_the_command_line_refuses_usr2():
    assert HandOver(os.getpid(), None, None).refusal() == (
        "this master was not started from the command line"
    )


def test_a_serving_master_may_start_an_upgrade():
    handover = HandOver(os.getpid(), LAUNCH, None)
    assert handover.phase is Phase.SERVING
    assert handover.refusal() is None


def test_a_new_master_refuses_usr2_until_its_workers_are_ready():
    handover = HandOver(os.getpid(), LAUNCH, Takeover(fds=(3,), old_pid=1))
    assert handover.phase is Phase.TAKING_OVER
    assert handover.refusal() == "this master is still taking over from pid 1"
    # pid 1 is not our parent: it is never signalled
    handover.workers_ready(Notifier(None))
    assert handover.phase is Phase.SERVING
    assert handover.refusal() is None


def test_an_event_without_a_transition_names_phase_and_event():
    handover = HandOver(os.getpid(), LAUNCH, None)
    with pytest.raises(HandOverError, match="the new master exited while serving"):
        handover.successor_exited(0, stopping=False, pidfile=None)


def test_takeover_variables_are_read_and_removed():
    environ = {"ASGI_MASTER_INHERIT_FDS": "3,4", "ASGI_MASTER_UPGRADE_FROM": "77", "X": "y"}
    assert take_takeover(environ) == Takeover(fds=(3, 4), old_pid=77)
    assert environ == {"X": "y"}
