"""One-frame messages read and written without wsproto change nothing a peer or the app can see.

Hypothesis builds client byte streams from a frame grammar that mixes the common shape (masked
one-frame text and binary) with everything else (fragments, pings, pongs, closes, reserved bits,
unmasked frames, bad opcodes, invalid UTF-8, oversized and two- and eight-byte lengths), cuts
them at random points, and feeds each to two sessions: one with the fast frames, one with every
frame through wsproto. An echo app answers every message. The app's messages, the frames the
peer receives, the session state and what becomes of the transport must be the same.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, TextMessage

from asgi_master.worker.asgi import ASGIMessageError, ClientDisconnected
from asgi_master.worker.ws.frames import (
    FIN_BINARY,
    FIN_TEXT,
    MAX_FAST_PAYLOAD,
    FrameScanner,
    data_frame,
    unmask,
)
from asgi_master.worker.ws.handshake import HandshakeRequest
from asgi_master.worker.ws.session import WebSocketSession
from tests.unit.defaults import websocket_settings

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def frame(
    first: int, payload: bytes, *, mask: bytes | None = b"\x01\x02\x03\x04", length_form: int = 0
) -> bytes:
    """A client frame, with the length in its shortest form or forced to the 2- or 8-byte one."""
    size = len(payload)
    masked = 0x80 if mask is not None else 0
    if length_form == 8 or size >= 0x10000:
        head = bytes((first, masked | 127)) + size.to_bytes(8, "big")
    elif length_form == 2 or size >= 126:
        head = bytes((first, masked | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, masked | size))
    if mask is None:
        return head + payload
    return head + mask + unmask(payload, mask)


texts = st.one_of(
    st.text(max_size=40).map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"\xff", b"ok\xc3", b"\xed\xa0\x80", b"caf\xc3\xa9"]),
)
payloads = st.one_of(st.binary(max_size=40), st.sampled_from([b"x" * 125, b"y" * 126, b"z" * 300]))
masks = st.one_of(st.just(b"\x00\x00\x00\x00"), st.binary(min_size=4, max_size=4))
close_payloads = st.sampled_from(
    [b"", b"\x03\xe8", b"\x03\xe8bye", b"\x03\xed", b"\x0b\xb8x", b"\x03", b"\x03\xe8\xff"]
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["text"] * 4
            + ["binary"] * 4
            + [
                "fragments",
                "ping",
                "pong",
                "close",
                "unmasked",
                "rsv",
                "bad_opcode",
                "continuation",
                "long_form",
                "big_control",
                "unfinished",
            ]
        )
    )
    mask = draw(masks)
    if kind == "text":
        return frame(FIN_TEXT, draw(texts), mask=mask)
    if kind == "binary":
        return frame(FIN_BINARY, draw(payloads), mask=mask)
    if kind == "fragments":
        opcode = draw(st.sampled_from([0x1, 0x2]))
        parts = draw(st.lists(texts if opcode == 1 else payloads, min_size=2, max_size=4))
        out = frame(opcode, parts[0], mask=mask)
        for i, part in enumerate(parts[1:], 2):
            if draw(st.booleans()):
                out += frame(0x89, b"mid")  # a ping between fragments is allowed
            out += frame((0x80 if i == len(parts) else 0) | 0x0, part, mask=mask)
        return out
    if kind == "ping":
        return frame(0x89, draw(st.binary(max_size=10)), mask=mask)
    if kind == "pong":
        return frame(0x8A, draw(st.binary(max_size=10)), mask=mask)
    if kind == "close":
        return frame(0x88, draw(close_payloads), mask=mask)
    if kind == "unmasked":
        return frame(draw(st.sampled_from([FIN_TEXT, FIN_BINARY])), b"plain", mask=None)
    if kind == "rsv":
        return frame(draw(st.sampled_from([0xC1, 0xA2, 0x92])), b"rsv", mask=mask)
    if kind == "bad_opcode":
        return frame(draw(st.sampled_from([0x83, 0x87, 0x8B, 0x8F])), b"op", mask=mask)
    if kind == "continuation":
        return frame(0x80, b"orphan", mask=mask)
    if kind == "long_form":
        return frame(
            draw(st.sampled_from([FIN_TEXT, FIN_BINARY])),
            b"short",
            mask=mask,
            length_form=draw(st.sampled_from([2, 8])),
        )
    if kind == "big_control":
        return frame(0x89, b"p" * 126, mask=mask)
    return frame(0x01, b"never finished", mask=mask)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    data = b"".join(draw(st.lists(frames(), min_size=1, max_size=8)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    return data, cuts


def run(data: bytes, cuts: list[int], fast: bool, max_message_size: int) -> tuple:
    request = HandshakeRequest(KEY, (), ())
    session = WebSocketSession(
        request, websocket_settings(max_message_size=max_message_size), fast_frames=fast
    )
    assert session.next_message() == {"type": "websocket.connect"}
    session.app_message({"type": "websocket.accept"})
    head = session.data_to_send()
    assert head.startswith(b"HTTP/1.1 101")
    received: list[dict] = []
    written = bytearray()
    start = 0
    for cut in [*cuts, len(data)]:
        session.receive_data(data[start:cut])
        start = cut
        while (message := session.next_message()) is not None:
            received.append(message)
            if message["type"] == "websocket.disconnect":
                break
            try:  # the echo app
                echo = {k: v for k, v in message.items() if k in ("text", "bytes")}
                session.app_message({"type": "websocket.send", **echo})
            except (ASGIMessageError, ClientDisconnected) as exc:
                received.append({"app_error": type(exc).__name__})
        written += session.data_to_send()
        if received and received[-1].get("type") == "websocket.disconnect":
            break
    return (
        normalise(received),
        peer_events(bytes(written)),
        session.state,
        session.transport_action,
        session.bytes_sent,
    )


def normalise(messages: list[dict]) -> list[dict]:
    """wsproto words an invalid UTF-8 failure by where the bad byte fell in what it was given,
    which depends on how the bytes were cut: only the code counts there."""
    return [dict(m, reason="") if m.get("code") == 1007 else m for m in messages]


def peer_events(data: bytes) -> list:
    """What the client makes of the server's bytes."""
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(data)
    events = []
    for event in client.events():
        if isinstance(event, CloseConnection) and event.code == 1007:
            event = CloseConnection(code=1007)
        events.append(event)
    return events


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([16 * 1024 * 1024, 0, 20, 200]))
def test_fast_frames_and_wsproto_agree(stream, max_message_size):
    data, cuts = stream
    assert run(data, cuts, True, max_message_size) == run(data, cuts, False, max_message_size)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([MAX_FAST_PAYLOAD - 1, MAX_FAST_PAYLOAD, MAX_FAST_PAYLOAD + 1, 70_000]),
    st.lists(st.integers(0, 80_000), max_size=4),
)
def test_large_frames_agree_at_the_fast_size_limit(size, cuts):
    data = frame(FIN_BINARY, os.urandom(size), mask=os.urandom(4)) + frame(FIN_TEXT, b"after")
    cuts = sorted(c for c in cuts if c <= len(data))
    assert run(data, cuts, True, 0) == run(data, cuts, False, 0)


def test_common_messages_do_skip_wsproto():
    seen: list[tuple[int, bytes]] = []
    other: list[bytes] = []
    scanner = FrameScanner(0)
    data = frame(FIN_TEXT, b"hi") + frame(FIN_BINARY, b"\x00\x01", mask=b"\xff\x00\xff\x00")
    assert scanner.feed(
        data, lambda first, p: seen.append((first, p)) or True, lambda d: other.append(d) or True
    )
    assert seen == [(FIN_TEXT, b"hi"), (FIN_BINARY, b"\x00\x01")]
    assert other == []


def test_the_scanner_holds_an_incomplete_binary_frame_until_the_rest_arrives():
    seen: list[bytes] = []
    other: list[bytes] = []
    scanner = FrameScanner(0)
    data = frame(FIN_BINARY, b"hello")
    for i in range(len(data)):
        scanner.feed(
            data[i : i + 1],
            lambda first, p: seen.append(p) or True,
            lambda d: other.append(d) or True,
        )
    assert seen == [b"hello"]
    assert other == []
    assert scanner.buffered == 0


def test_an_incomplete_text_frame_goes_to_wsproto_as_it_arrives():
    other: list[bytes] = []
    scanner = FrameScanner(0)
    data = frame(FIN_TEXT, b"hello")
    scanner.feed(data[:8], lambda first, p: False, lambda d: other.append(d) or True)
    assert b"".join(other) == data[:8]
    scanner.feed(data[8:], lambda first, p: False, lambda d: other.append(d) or True)
    assert b"".join(other) == data


def test_invalid_utf8_fails_the_connection_before_the_rest_of_its_frame_arrives():
    session = WebSocketSession(HandshakeRequest(KEY, (), ()), websocket_settings())
    session.next_message()
    session.app_message({"type": "websocket.accept"})
    session.data_to_send()
    data = frame(FIN_TEXT, b"ok \xff then more text that has not arrived yet")
    session.receive_data(data[:12])
    message = session.next_message()
    assert message is not None
    assert (message["type"], message["code"]) == ("websocket.disconnect", 1007)
    assert peer_events(session.data_to_send())[0].code == 1007


def test_a_fragmented_message_goes_to_wsproto_whole_with_its_continuations():
    other: list[bytes] = []
    scanner = FrameScanner(0)
    data = frame(0x01, b"a") + frame(0x80, b"b") + frame(FIN_TEXT, b"c")
    scanner.feed(data, lambda first, p: False, lambda d: other.append(d) or True)
    first_two = frame(0x01, b"a") + frame(0x80, b"b")
    assert b"".join(other) == first_two
    assert scanner.buffered == 0


def test_server_frames_are_the_ones_wsproto_writes():
    server = Connection(ConnectionType.SERVER)
    for size in (0, 1, 125, 126, 65535, 65536, 70_000):
        payload = b"b" * size
        assert data_frame(FIN_BINARY, payload) == server.send(BytesMessage(data=payload))
        assert data_frame(FIN_TEXT, payload) == server.send(TextMessage(data=payload.decode()))


def test_unmask_is_its_own_inverse_on_both_sides_of_the_method_switch():
    key = b"\x12\x34\x56\x78"
    for size in (0, 1, 3, 4, 5, 1023, 1024, 1025, 4099):
        payload = os.urandom(size)
        masked = unmask(payload, key)
        assert unmask(masked, key) == payload
        expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert masked == expected
