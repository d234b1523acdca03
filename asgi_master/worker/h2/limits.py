"""What one HTTP/2 connection is allowed: the SETTINGS it advertises, the request limits it
shares with HTTP/1.1, its timers and its abuse budgets. Built from the settings table
(``from_config``); the defaults of the fields that are settings live there, not here.

Memory per connection is bounded by these values: request bodies the apps have not read by
``max_concurrent_streams * initial_window_size`` (a stream's window is reopened only as its app
reads), one header block being read by ``max_header_list_size``, and a stream's response queue
by the one body part its app is waiting to send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .abuse import DEFAULT_BUDGETS, Abuse, Budget
from .request import RequestLimits

if TYPE_CHECKING:
    from ...config import Config

#: RFC 7541 4.1: an HPACK table entry's size is its name and value plus 32 (here, and not in
#: compression.py, so that the worker's settings do not import the HPACK code)
ENTRY_OVERHEAD: Final = 32


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The bounds and timers of the server side of one connection."""

    #: SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused (REFUSED_STREAM)
    max_concurrent_streams: int
    #: SETTINGS_INITIAL_WINDOW_SIZE: request body a stream may send ahead of its app
    initial_window_size: int
    #: SETTINGS_MAX_FRAME_SIZE: the largest frame payload we read
    max_frame_size: int
    #: the request limits shared with HTTP/1.1 (``limit_request_*``)
    request: RequestLimits
    #: close a connection that has had no open stream for this long (GOAWAY NO_ERROR)
    idle_timeout: float
    #: send a PING when nothing has been received for this long (0: never)
    ping_interval: float
    #: close the connection when a PING is not answered within this long (0: never)
    ping_timeout: float
    #: the connection window we open at the start and keep replenished as DATA arrives
    connection_window: int = 1 << 20
    #: how long the client may take to acknowledge our SETTINGS (SETTINGS_TIMEOUT after)
    settings_timeout: float = 10.0
    #: how long a graceful shutdown waits for the PING after its first GOAWAY
    drain_ping_timeout: float = 2.0
    #: frames a header block may span (HEADERS and CONTINUATION together)
    max_header_frames: int = 64
    budgets: Mapping[Abuse, Budget] = field(default_factory=lambda: DEFAULT_BUDGETS)

    @property
    def max_header_list_size(self) -> int:
        """SETTINGS_MAX_HEADER_LIST_SIZE: as large as HTTP/1.1's largest header section, in
        RFC 7541 sizes (each field counts 32 more than its name and value)."""
        request = self.request
        return request.max_fields * (request.max_field_size + ENTRY_OVERHEAD)

    @property
    def connect_protocol(self) -> bool:
        """SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised (RFC 8441, WebSocket over HTTP/2)."""
        return self.request.connect_protocol

    @classmethod
    def from_config(
        cls, config: Config, *, connect_protocol: bool = False, **changes: Any
    ) -> ConnectionLimits:
        """The limits the settings ask for. ``connect_protocol``: extended CONNECT works on
        this server (only then is it advertised); ``changes`` replace fields (tests)."""
        limits = cls(
            max_concurrent_streams=config.http2_max_concurrent_streams,
            initial_window_size=config.http2_initial_window_size,
            max_frame_size=config.http2_max_frame_size,
            request=RequestLimits(
                max_fields=config.limit_request_fields,
                max_field_size=config.limit_request_field_size,
                max_target=config.limit_request_line,
                max_body=config.limit_request_body,
                connect_protocol=connect_protocol,
            ),
            idle_timeout=config.http2_idle_timeout,
            ping_interval=config.http2_ping_interval,
            ping_timeout=config.http2_ping_timeout,
        )
        return dataclasses.replace(limits, **changes) if changes else limits
