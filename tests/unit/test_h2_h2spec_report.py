# ruff: noqa: E501 (the sample keeps h2spec's lines as they are)
"""The h2spec runner reads h2spec's JUnit report: case ids, outcomes and messages (the sample
is the shape h2spec 2.6 writes)."""

from __future__ import annotations

from tests.h2spec import parse_junit

SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="3.5. HTTP/2 Connection Preface" package="http2/3.5" id="3.5" tests="2" skipped="0" failures="0" errors="1">
    <testcase package="http2/3.5" classname="Sends client connection preface" time="0.0004"></testcase>
    <testcase package="http2/3.5" classname="Sends invalid connection preface" time="0.0083">
      <error>GOAWAY Frame (Error Code: PROTOCOL_ERROR)
Connection closed
Error: unexpected EOF</error>
    </testcase>
  </testsuite>
  <testsuite name="6.9.1. The Flow-Control Window" package="http2/6.9.1" id="6.9.1" tests="3" skipped="1" failures="1" errors="0">
    <testcase package="http2/6.9.1" classname="Sends SETTINGS frame to set the initial window size to 1" time="0.01"></testcase>
    <testcase package="http2/6.9.1" classname="Sends multiple WINDOW_UPDATE frames" time="0.01"><failure message="timeout"></failure></testcase>
    <testcase package="http2/6.9.1" classname="Strict case" time="0"><skipped></skipped></testcase>
  </testsuite>
</testsuites>
"""


def test_cases_are_named_by_section_and_index():
    report = parse_junit(SAMPLE)
    assert [c.id for c in report.cases] == [
        "http2/3.5/1",
        "http2/3.5/2",
        "http2/6.9.1/1",
        "http2/6.9.1/2",
        "http2/6.9.1/3",
    ]


def test_errors_and_failures_count_as_failed_with_their_message():
    report = parse_junit(SAMPLE)
    assert [(c.id, c.message.splitlines()[0]) for c in report.failed] == [
        ("http2/3.5/2", "GOAWAY Frame (Error Code: PROTOCOL_ERROR)"),
        ("http2/6.9.1/2", "timeout"),
    ]
    assert [c.id for c in report.skipped] == ["http2/6.9.1/3"]
    assert report.summary() == "5 tests, 2 passed, 1 skipped, 2 failed"
