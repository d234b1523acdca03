"""The control channel's wire format: messages and the STATS figures, through a real pipe."""

from __future__ import annotations

import os

from asgi_master.channel import DURATION_BUCKETS, ChannelReader, ChannelWriter, Kind, WorkerStats

HISTOGRAM = tuple(range(len(DURATION_BUCKETS) + 1))


def test_stats_without_a_histogram_are_two_counters():
    assert WorkerStats(requests=12, connections=3).encode() == "requests=12 connections=3"


def test_stats_with_a_histogram_round_trip():
    stats = WorkerStats(requests=66, connections=1, durations=HISTOGRAM, duration_sum=1.5)
    assert WorkerStats.decode(stats.encode()) == stats


def test_stats_decode_is_none_for_a_malformed_line():
    assert WorkerStats.decode("requests=x connections=1") is None
    assert WorkerStats.decode("connections=1") is None
    assert WorkerStats.decode("requests=1 connections=1 durations=1,2") is None
    assert WorkerStats.decode("requests=-1 connections=1") is None


def test_stats_travel_the_pipe_from_writer_to_reader():
    read_fd, write_fd = os.pipe()
    try:
        reader, writer = ChannelReader(read_fd), ChannelWriter(write_fd)
        stats = WorkerStats(requests=5, connections=2, durations=HISTOGRAM, duration_sum=0.25)
        writer.send(Kind.HEARTBEAT)
        writer.send(Kind.STATS, stats.encode())
        messages, closed = reader.read()
        assert not closed
        assert messages[0] == (Kind.HEARTBEAT, "")
        kind, detail = messages[1]
        assert kind is Kind.STATS and WorkerStats.decode(detail) == stats
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_reader_sees_the_writer_close():
    read_fd, write_fd = os.pipe()
    reader = ChannelReader(read_fd)
    ChannelWriter(write_fd).send(Kind.READY)
    os.close(write_fd)
    assert reader.read() == ([(Kind.READY, "")], True)
    os.close(read_fd)
