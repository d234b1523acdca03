"""Crash-loop backoff of the master's worker slots."""

from __future__ import annotations

from asgi_master.supervisor.backoff import MAX_BACKOFF, YOUNG, CrashBackoff


def test_first_young_death_is_retried_at_once_then_delays_double():
    backoff = CrashBackoff()
    now = 1000.0
    delays = [backoff.worker_died(1, started_at=now - 1, now=now) for _ in range(5)]
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0]
    assert not backoff.may_start(1, now + 15.9)
    assert backoff.may_start(1, now + 16.0)


def test_delay_is_capped():
    backoff = CrashBackoff()
    delays = [backoff.worker_died(1, started_at=0.0, now=1.0) for _ in range(12)]
    assert max(delays) == MAX_BACKOFF


def test_a_worker_that_lived_long_resets_its_slot():
    backoff = CrashBackoff()
    for _ in range(4):
        backoff.worker_died(1, started_at=0.0, now=1.0)
    assert backoff.worker_died(1, started_at=0.0, now=YOUNG) == 0.0
    assert backoff.worker_died(1, started_at=100.0, now=101.0) == 0.0


def test_slots_back_off_independently():
    backoff = CrashBackoff()
    for _ in range(3):
        backoff.worker_died(1, started_at=0.0, now=1.0)
    assert not backoff.may_start(1, 1.0)
    assert backoff.may_start(2, 1.0)
