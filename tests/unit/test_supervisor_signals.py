"""The master's signal table: every signal it catches has one named handler."""

from __future__ import annotations

import signal

from asgi_master.config import Config
from asgi_master.supervisor.master import Master
from asgi_master.supervisor.signals import HANDLED


def make_master() -> Master:
    config = Config(app="examples.hello:app", workers=1)
    return Master(config, [], lambda: config)


def test_every_handled_signal_has_a_documented_handler_of_the_master():
    master = make_master()
    assert set(master.on_signal) == set(HANDLED)
    for signum, handler in master.on_signal.items():
        assert getattr(handler, "__self__", None) is master, signum
        assert handler.__doc__, f"{signum.name} -> {handler.__name__} has no docstring"


def test_int_and_quit_both_stop_fast_and_term_stops_gracefully():
    master = make_master()
    assert master.on_signal[signal.SIGINT] == master.on_signal[signal.SIGQUIT]
    master.on_signal[signal.SIGTERM]()
    assert master.stopping and master.shutdown.graceful
    master.on_signal[signal.SIGQUIT]()
    assert not master.shutdown.graceful
