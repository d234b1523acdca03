"""The slow-body rule: how long the app may wait in ``receive`` for a request body that
trickles in (Apache mod_reqtimeout's ``body=20,MinRate=500`` is the model).

The app may wait ``timeout`` seconds in all, plus one second for every ``min_rate`` bytes of
body received so far: a client that keeps an average of ``min_rate`` bytes a second once the
first ``timeout`` seconds are spent is never cut off, one that sends a few bytes every ten
seconds is, within ``timeout`` seconds and a few more of waiting. Only time the app spends
waiting for body that has not come counts (``RequestCycle`` measures it); an app that is slow
to read is flow control, not a slow client. The rule is protocol-agnostic: every protocol's
request cycle applies it, checked by its adapter's once-a-second sweep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BodyRate:
    """``request_body_timeout`` (0: no limit) and ``request_body_min_rate`` (0: no extension)."""

    timeout: float
    min_rate: int

    def allowed(self, received: int) -> float:
        """Seconds of waiting allowed once ``received`` bytes of body have come."""
        if self.min_rate:
            return self.timeout + received / self.min_rate
        return self.timeout

    def overdue(self, waited: float, received: int) -> bool:
        """Whether ``waited`` seconds of waiting for body is past what ``received`` bytes buy."""
        return bool(self.timeout) and waited > self.allowed(received)

    def describe(self) -> str:
        """The rule in words, for the log line of a request cut off."""
        if self.min_rate:
            return f"request_body_timeout {self.timeout:g}s + 1s per {self.min_rate} bytes"
        return f"request_body_timeout {self.timeout:g}s"
