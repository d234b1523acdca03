"""The request corpus (tests/fixtures/http): every raw request read by RequestReader, whole and
one byte at a time, must give the recorded requests or the recorded refusal status.

Cases marked ``pending`` are refusals the reader does not make yet; they are strict xfails, so
one starts failing ("XPASS(strict)") the moment the reader gets it right: then remove its
``pending`` in make_fixtures.py and regenerate.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from asgi_master.worker.http.head import RequestHead
from asgi_master.worker.http.reader import (
    CLOSED,
    END_OF_BODY,
    NEED_DATA,
    PAUSED,
    Body,
    Limits,
    ProtocolError,
    RequestReader,
)
from tests.unit.defaults import limits

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "http"


@dataclass
class Outcome:
    """What the reader made of a case."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    reason: str = ""
    #: the refusal came only after the client closed its side
    at_eof: bool = False


def load_case(name: str) -> tuple[bytes, dict[str, Any]]:
    raw = (CORPUS / f"{name}.http").read_bytes()
    return raw, json.loads((CORPUS / f"{name}.json").read_text())


def case_names() -> list[str]:
    return sorted(p.stem for p in CORPUS.glob("*.http"))


def expected_body(request: dict[str, Any]) -> bytes:
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return str(request.get("body", "")).encode("utf-8")


def as_record(head: RequestHead) -> dict[str, Any]:
    return {
        "method": head.method,
        "target": head.target.decode("latin-1"),
        "http_version": head.http_version,
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in head.headers],
        "body": b"",
        "keep_alive": head.keep_alive,
        "content_length": head.content_length,
        "chunked": head.chunked,
        "expect_continue": head.expect_continue,
        "upgrade": head.upgrade.decode("latin-1") if head.upgrade is not None else None,
    }


def read(raw: bytes, limits: Limits, bytewise: bool) -> Outcome:
    """Feed ``raw`` (then the client's close) and collect requests until an error or the end."""
    reader = RequestReader(limits)
    # byte by byte finds boundary bugs; inputs past 16 KiB go in odd-sized pieces, since the
    # head is rescanned per feed and a byte at a time would cost seconds there
    size = (1 if len(raw) <= 16384 else 997) if bytewise else max(len(raw), 1)
    pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
    pieces.reverse()
    outcome = Outcome()
    current: dict[str, Any] | None = None
    eof = False
    while True:
        try:
            event = reader.next_event()
        except ProtocolError as exc:
            outcome.status, outcome.reason, outcome.at_eof = exc.status, exc.reason, eof
            return outcome
        if isinstance(event, RequestHead):
            current = as_record(event)
        elif isinstance(event, Body):
            assert current is not None
            current["body"] += event.data
        elif event is END_OF_BODY:
            assert current is not None
            outcome.requests.append(current)
            current = None
        elif event is PAUSED:
            if current is not None:
                # a request without a body may go straight from its head to PAUSED
                outcome.requests.append(current)
                current = None
            reader.next_cycle()  # the response went out: read on
        elif event is NEED_DATA:
            if pieces:
                reader.feed(pieces.pop())
            elif not eof:
                reader.feed(b"")
                eof = True
            else:
                raise AssertionError("the reader wants data after the client closed")
        elif event is CLOSED:
            return outcome


def check_requests(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(got) == len(expected), f"read {len(got)} requests, expected {len(expected)}"
    for index, (request, want) in enumerate(zip(got, expected, strict=True)):
        where = f"request {index + 1}"
        for key in ("method", "target", "http_version", "headers"):
            assert request[key] == want[key], f"{where}: {key}"
        assert request["body"] == expected_body(want), f"{where}: body"
        for fact in ("keep_alive", "content_length", "chunked", "expect_continue", "upgrade"):
            if fact in want:
                assert request[fact] == want[fact], f"{where}: {fact}"


def params() -> list[Any]:
    out = []
    for name in case_names():
        _, expected = load_case(name)
        marks = []
        if "pending" in expected:
            marks.append(pytest.mark.xfail(reason=expected["pending"], strict=True))
        for mode in ("whole", "bytewise"):
            out.append(pytest.param(name, mode, marks=marks, id=f"{name}-{mode}"))
    return out


@pytest.mark.parametrize(("name", "mode"), params())
def test_fixture(name: str, mode: str) -> None:
    raw, expected = load_case(name)
    outcome = read(raw, limits(**expected.get("limits", {})), bytewise=mode == "bytewise")
    if "status" not in expected:
        assert outcome.status is None, f"refused with {outcome.status}: {outcome.reason}"
        check_requests(outcome.requests, expected.get("requests", [expected]))
        return
    assert outcome.status is not None, f"accepted: {[r['target'] for r in outcome.requests]}"
    assert outcome.status == expected["status"], outcome.reason
    assert outcome.at_eof == expected.get("at_eof", False), (
        "refused only once the client closed"
        if outcome.at_eof
        else "refused before the client closed"
    )
    check_requests(outcome.requests, expected.get("requests", []))


def test_corpus_is_big_enough_and_has_both_kinds() -> None:
    cases = [load_case(name)[1] for name in case_names()]
    assert len(cases) >= 150
    assert sum("status" in c for c in cases) >= 60
    assert sum("status" not in c for c in cases) >= 60


def test_generated_files_match_the_generator() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", CORPUS / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.CASES) == case_names()
    for name, (raw, expected) in module.CASES.items():
        assert load_case(name) == (raw, expected), f"{name}: run make_fixtures.py"
