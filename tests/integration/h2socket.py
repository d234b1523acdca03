"""An HTTP/2 client over a real socket for the tests that play frames against a running
server: the `h2` library's client side on a blocking socket (h2c, or TLS with ALPN h2), with a
way to write raw frames (hyperframe) that h2 itself would never send.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe import frame as hf


class H2Socket:
    """One client connection: ``request`` sends a request, ``read_until`` reads until a
    condition on the events seen holds."""

    def __init__(
        self,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        window: int | None = None,
    ) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            tls.set_alpn_protocols(["h2"])
            raw = tls.wrap_socket(raw, server_hostname="127.0.0.1")
        self.sock = raw
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        #: every event the client saw, in order
        self.events: list[h2.events.Event] = []
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket (frames h2 would not send)."""
        self.sock.sendall(data)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        body: bytes | None = None,
        headers: Iterable[tuple[bytes, bytes]] = (),
        authority: bytes = b"127.0.0.1",
        scheme: bytes = b"http",
        end_stream: bool | None = None,
        extra_pseudo: Iterable[tuple[bytes, bytes]] = (),
    ) -> int:
        """Open a stream with a request; the stream id."""
        stream_id = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":scheme", scheme),
            (b":authority", authority),
            (b":path", path.encode()),
            *extra_pseudo,
            *headers,
        ]
        ends = True if end_stream is None else end_stream
        self.conn.send_headers(stream_id, fields, end_stream=ends and not body)
        if body:
            self.send_body(stream_id, body, end_stream=ends)
        self.flush()
        return stream_id

    def send_body(
        self, stream_id: int, data: bytes, end_stream: bool = False, timeout: float = 10.0
    ) -> None:
        """DATA frames of ``data`` within the peer's frame size and the windows, reading the
        server's WINDOW_UPDATEs when they are shut (AssertionError if they stay shut)."""
        deadline = time.monotonic() + timeout
        at = 0
        while at < len(data) or (end_stream and not at and not data):
            window = self.conn.local_flow_control_window(stream_id)
            if not window and data:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the window of stream {stream_id} stays shut")
                self.read_once(0.5)
                continue
            piece = data[at : at + min(window, self.conn.max_outbound_frame_size)]
            at += len(piece)
            self.conn.send_data(stream_id, piece, end_stream=end_stream and at >= len(data))
            self.flush()
            if not data:
                break

    def read_once(self, timeout: float = 10.0) -> list[h2.events.Event]:
        """One read from the socket; the events it caused (empty once the server closed)."""
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        self.events += events
        for event in events:
            # a client that reads what it receives opens its windows again
            if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self.flush()
        return events

    def read_until(self, done: Any, timeout: float = 10.0) -> None:
        """Read until ``done(self)`` is true; AssertionError after ``timeout`` or on close."""
        deadline = time.monotonic() + timeout
        while not done(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; events: {self.events[-10:]}")
            self.read_once(left)
            if self.closed and not done(self):
                raise AssertionError(f"server closed; events: {self.events[-10:]}")

    # -- what was seen ---------------------------------------------------------------------

    def saw(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def ended(self, stream_id: int) -> bool:
        return any(
            isinstance(e, h2.events.StreamEnded | h2.events.StreamReset)
            and e.stream_id == stream_id
            for e in self.events
        )

    def status(self, stream_id: int) -> int | None:
        for event in self.saw(h2.events.ResponseReceived):
            if event.stream_id == stream_id:
                return int(dict(event.headers)[b":status"])
        return None

    def headers(self, stream_id: int) -> dict[bytes, bytes]:
        for event in self.saw(h2.events.ResponseReceived):
            if event.stream_id == stream_id:
                return dict(event.headers)
        raise AssertionError(f"no response on stream {stream_id}")

    def body(self, stream_id: int) -> bytes:
        return b"".join(
            e.data for e in self.saw(h2.events.DataReceived) if e.stream_id == stream_id
        )

    def goaways(self) -> list[h2.events.ConnectionTerminated]:
        return self.saw(h2.events.ConnectionTerminated)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def rst_stream(stream_id: int, code: int = 8) -> bytes:
    """A RST_STREAM frame (CANCEL by default)."""
    return hf.RstStreamFrame(stream_id, error_code=code).serialize()


def ping(data: bytes = b"12345678") -> bytes:
    return hf.PingFrame(0, data).serialize()


def tls_files(folder: Any) -> tuple[str, str]:
    """A server certificate (with its key) for 127.0.0.1 and the CA that signed it, written
    to ``folder``: their paths."""
    import trustme

    ca = trustme.CA()
    certfile, cafile = folder / "server.pem", folder / "ca.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(certfile)
    )
    ca.cert_pem.write_to_path(str(cafile))
    return str(certfile), str(cafile)


def client_tls(cafile: str) -> ssl.SSLContext:
    """A client context trusting ``cafile``, offering h2."""
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


class FrameReader:
    """A client that speaks HTTP/2 by hand on a real socket and reads the server's frames as
    they come (for what h2's client hides: it stops at the first GOAWAY): the preface and an
    empty SETTINGS, requests as HPACK blocks of literals, frames parsed with hyperframe."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        import hpack

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.encoder = hpack.Encoder()
        self.frames: list[hf.Frame] = []
        self._buffer = b""
        self.closed = False
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + hf.SettingsFrame(0).serialize())

    def request(
        self,
        stream_id: int,
        path: str,
        method: str = "GET",
        extra: Iterable[tuple[str, str]] = (),
        end_stream: bool = True,
    ) -> None:
        fields = [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1")]
        block = self.encoder.encode([*fields, (":path", path), *extra])
        flags = ["END_HEADERS", "END_STREAM"] if end_stream else ["END_HEADERS"]
        self.sock.sendall(hf.HeadersFrame(stream_id, block, flags=flags).serialize())

    def data(self, stream_id: int, payload: bytes, end_stream: bool = False) -> None:
        flags = ["END_STREAM"] if end_stream else []
        self.sock.sendall(hf.DataFrame(stream_id, payload, flags=flags).serialize())

    def body(self, stream_id: int) -> bytes:
        return b"".join(f.data for f in self.of(hf.DataFrame) if f.stream_id == stream_id)

    def read_until(self, done: Any, timeout: float = 15.0) -> None:
        """Read frames until ``done(self)``, acknowledging SETTINGS and answering PINGs."""
        deadline = time.monotonic() + timeout
        while not done(self):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(f"not done; frames: {self.frames[-10:]}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                continue
            self._buffer += data
            self._parse()

    def _parse(self) -> None:
        while len(self._buffer) >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(self._buffer[:9]))
            if len(self._buffer) < 9 + length:
                return
            frame.parse_body(memoryview(self._buffer[9 : 9 + length]))
            self._buffer = self._buffer[9 + length :]
            self.frames.append(frame)
            answer = b""
            if isinstance(frame, hf.PingFrame) and "ACK" not in frame.flags:
                answer = hf.PingFrame(0, frame.opaque_data, flags=["ACK"]).serialize()
            elif isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
                answer = hf.SettingsFrame(0, flags=["ACK"]).serialize()
            if answer:
                with contextlib.suppress(OSError):  # the server may have closed already
                    self.sock.sendall(answer)

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
