"""Abuse limits of one HTTP/2 connection: the known ways to make a server do much work, or hold
much memory, for few bytes (CVE-2023-44487 rapid reset; the 2019 family CVE-2019-9511 to 9518;
the 2024 CONTINUATION floods; HPACK bombs).

Each kind of suspicious frame is counted per connection in fixed windows of its budget's
interval; the first count past a budget's limit trips the guard, which is logged once and
makes the connection answer GOAWAY ENHANCE_YOUR_CALM and close. What each kind counts is
written beside it below; docs for operators are in docs/http.md (HTTP/2 section).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

log = logging.getLogger("asgi_master.error")


class Abuse(enum.Enum):
    """The kinds of frames counted, with what one count is."""

    #: CVE-2023-44487: a stream reset by the client before its response was complete
    RAPID_RESET = "rapid reset: streams reset by the client"
    #: CVE-2019-9514: a RST_STREAM the server had to send (refused and malformed streams,
    #: frames on closed streams)
    RESET_FLOOD = "reset flood: streams the server had to reset"
    #: CVE-2019-9512: a PING that is not an answer to ours
    PING_FLOOD = "ping flood: PING frames"
    #: CVE-2019-9515: a SETTINGS frame that is not an acknowledgement
    SETTINGS_FLOOD = "settings flood: SETTINGS frames"
    #: CVE-2019-9513, 9516, 9518: a frame that asks nothing of the server: PRIORITY (we keep
    #: no priority tree to churn), empty DATA or CONTINUATION, unknown frame types, frames on
    #: streams already gone
    EMPTY_FRAMES = "empty frames flood: frames that carry nothing"
    #: CVE-2019-9511: a DATA frame under 1 KiB that the window cut short of what was ready
    #: (the window is being opened in small steps)
    DATA_DRIBBLE = "data dribble: DATA frames cut small by the window"
    #: a header block of more frames or bytes than the list size allows (CVE-2024-27316 and
    #: kin); one is enough
    CONTINUATION_FLOOD = "CONTINUATION flood: a header block too large or in too many frames"
    #: a header list that decodes larger than SETTINGS_MAX_HEADER_LIST_SIZE (answered 431)
    HPACK_BOMB = "HPACK bomb: header lists decoding beyond the list size"

    __hash__ = object.__hash__  # identity hash: a Python-level Enum.__hash__ per count is slow


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``limit`` counts within ``interval`` seconds."""

    limit: int
    interval: float


DEFAULT_BUDGETS: Final[Mapping[Abuse, Budget]] = MappingProxyType(
    {
        # netty's defaults for rapid reset; browsers cancel a few dozen on a navigation
        Abuse.RAPID_RESET: Budget(200, 30.0),
        Abuse.RESET_FLOOD: Budget(200, 10.0),
        Abuse.PING_FLOOD: Budget(100, 10.0),
        Abuse.SETTINGS_FLOOD: Budget(50, 10.0),
        Abuse.EMPTY_FRAMES: Budget(500, 10.0),
        Abuse.DATA_DRIBBLE: Budget(500, 10.0),
        Abuse.CONTINUATION_FLOOD: Budget(0, 1.0),
        Abuse.HPACK_BOMB: Budget(10, 60.0),
    }
)


class AbuseGuard:
    """The counters of one connection."""

    __slots__ = ("_budgets", "_counts", "_starts", "peer", "totals", "tripped")

    def __init__(self, budgets: Mapping[Abuse, Budget], peer: str = "") -> None:
        self._budgets = budgets
        self._counts: dict[Abuse, int] = {}
        self._starts: dict[Abuse, float] = {}
        #: every count since the connection opened, by kind (for metrics and tests)
        self.totals: dict[Abuse, int] = {}
        #: the kind that tripped the guard (None while within every budget)
        self.tripped: Abuse | None = None
        #: who the log line names
        self.peer = peer

    def count(self, kind: Abuse, now: float) -> bool:
        """Count one ``kind``; True when that takes it past its budget (the caller ends the
        connection; the line is logged here, once)."""
        self.totals[kind] = self.totals.get(kind, 0) + 1
        budget = self._budgets[kind]
        start = self._starts.get(kind)
        if start is None or now - start >= budget.interval:
            self._starts[kind] = now
            count = self._counts[kind] = 1
        else:
            count = self._counts[kind] = self._counts[kind] + 1
        if count <= budget.limit:
            return False
        if self.tripped is None:
            self.tripped = kind
            log.warning(
                "HTTP/2 %s from %s: %d within %g s (limit %d): GOAWAY ENHANCE_YOUR_CALM",
                kind.value,
                self.peer or "a client",
                count,
                budget.interval,
                budget.limit,
            )
        return True
