"""Summaries of the raw per-round results: medians, ranges, ratios, markdown tables (and,
through ``bench.charts``, the same as PNG charts)."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REFERENCE = "asgi-master"

Round = Mapping[str, object]


@dataclass(frozen=True)
class Metric:
    """One reported number of a workload.

    ``better`` says which direction is good, so the table can say it;
    ``ratio`` is False for counts where a quotient means nothing (e.g. failures).
    """

    key: str
    label: str
    better: str  # "higher" or "lower"
    ratio: bool = True
    integer: bool = False


WORKLOAD_METRICS: dict[str, list[Metric]] = {
    "hello": [
        Metric("requests_per_s", "req/s", "higher"),
        Metric("p50_ms", "p50 ms", "lower"),
        Metric("p99_ms", "p99 ms", "lower"),
    ],
    "close": [
        Metric("requests_per_s", "req/s", "higher"),
        Metric("p50_ms", "p50 ms", "lower"),
        Metric("p99_ms", "p99 ms", "lower"),
    ],
    "stream": [Metric("mib_per_s", "MiB/s", "higher")],
    "upload": [Metric("mib_per_s", "MiB/s", "higher")],
    "ws": [Metric("messages_per_s", "msg/s", "higher")],
    "rss": [
        Metric("idle_mib", "idle MiB", "lower"),
        Metric("growth_mib", "growth MiB", "lower"),
    ],
    "reload": [
        Metric("failed", "failed", "lower", ratio=False, integer=True),
        Metric("longest_stall_ms", "longest stall ms", "lower"),
        Metric("max_latency_ms", "max latency ms", "lower"),
        # The Python client, not the server, limits this rate: context only.
        Metric("requests_per_s", "req/s", "higher", ratio=False),
        Metric("children_replaced", "workers replaced", "higher", ratio=False, integer=True),
    ],
}

WORKLOAD_TITLES = {
    "hello": "hello: GET / -> 13 bytes, wrk -t1 -c64",
    "close": "close: GET / with Connection: close (a new connection per request), wrk -t1 -c32",
    "stream": "stream: 1 MiB response in 16 x 64 KiB chunks, wrk -t1 -c8 (MiB/s from Transfer/sec)",
    "upload": "upload: POST 1 MiB, echoed back, wrk -t1 -c8 (MiB/s of request body)",
    "ws": "ws: WebSocket echo, 32 connections x 8 in flight, 100-byte text messages "
    "(msg/s = echoes received per second)",
    "rss": "rss: worker RSS idle, and its growth after 100k hello requests",
    "reload": "reload: SIGHUP to the master under keep-alive hello load (--workers 2)",
}


def values(rounds: Sequence[Round], key: str) -> list[float]:
    """The numeric values of ``key`` over rounds that produced it."""
    out: list[float] = []
    for result in rounds:
        value = result.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
    return out


def ratio_median(reference: Sequence[Round], peer: Sequence[Round], key: str) -> float | None:
    """Median over rounds of reference/peer, pairing results of the same round.

    Pairing by round (rather than dividing medians) is the point of
    interleaving: both numbers of a pair saw the same machine state.
    """
    by_round = {r.get("round"): r.get(key) for r in peer}
    ratios: list[float] = []
    for result in reference:
        mine, theirs = result.get(key), by_round.get(result.get("round"))
        if isinstance(mine, int | float) and isinstance(theirs, int | float) and theirs:
            ratios.append(float(mine) / float(theirs))
    return statistics.median(ratios) if ratios else None


def fmt(value: float | None, integer: bool = False) -> str:
    """Compact human formatting: thousands separators for big numbers."""
    if value is None:
        return "n/a"
    if integer:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def error_count(rounds: Sequence[Round]) -> int:
    """Total errors the load generator saw over all rounds."""
    total = 0
    for result in rounds:
        errors = result.get("errors")
        if isinstance(errors, int):
            total += errors
        elif isinstance(errors, dict):
            total += sum(v for v in errors.values() if isinstance(v, int))
        mismatches = result.get("mismatches")
        if isinstance(mismatches, int):
            total += mismatches
    return total


def workload_table(workload: str, per_server: Mapping[str, Sequence[Round]]) -> str:
    """Markdown table for one workload: the first metric with median/min/max and
    ratio columns, the others as median and ratio, then errors and failed rounds."""
    metrics = WORKLOAD_METRICS[workload]
    primary, rest = metrics[0], metrics[1:]
    ref_rounds = [r for r in per_server.get(REFERENCE, []) if "error" not in r]
    header = [
        "server",
        f"{primary.label} median",
        "min",
        "max",
        f"{REFERENCE}/peer" if primary.ratio else "",
    ]
    for metric in rest:
        header += [f"{metric.label} median"]
        if metric.ratio:
            header += [f"{metric.label} {REFERENCE}/peer"]
    show_cpu = any(values(rs, "server_cpu") for rs in per_server.values())
    if show_cpu:
        header += ["CPU worker/tree/core 0"]
    header += ["errors (all rounds)", "rounds ok"]
    header = [h for h in header if h]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for server, rounds in per_server.items():
        good = [r for r in rounds if "error" not in r]
        prim = values(good, primary.key)
        cells = [server]
        cells += (
            [fmt(v, primary.integer) for v in (statistics.median(prim), min(prim), max(prim))]
            if prim
            else ["failed", "", ""]
        )
        if primary.ratio:
            cells.append(_ratio_cell(server, ref_rounds, good, primary.key))
        for metric in rest:
            vals = values(good, metric.key)
            cells.append(fmt(statistics.median(vals), metric.integer) if vals else "n/a")
            if metric.ratio:
                cells.append(_ratio_cell(server, ref_rounds, good, metric.key))
        if show_cpu:
            cells.append(_cpu_cell(good))
        cells += [str(error_count(good)), f"{len(good)}/{len(rounds)}"]
        rows.append("| " + " | ".join(cells) + " |")
    better = ", ".join(f"{m.label}: {m.better} is better" for m in metrics)
    title = WORKLOAD_TITLES[workload]
    if workload == "rss":
        counts = values([r for rs in per_server.values() for r in rs], "requests")
        if counts:
            title = title.replace("100k", f"{statistics.median(counts):,.0f}")
    return f"#### {title}\n\n({better})\n\n" + "\n".join(rows) + "\n"


def _cpu_cell(rounds: Sequence[Round]) -> str:
    """Median shares of a core used by the worker, the server tree, and everyone on CPU 0."""
    worker, tree = values(rounds, "server_cpu"), values(rounds, "server_tree_cpu")
    if not worker:
        return "n/a"
    core = values(rounds, "cpu0_busy")
    return "/".join(f"{statistics.median(v):.2f}" for v in (worker, tree, core) if v)


def source_change_note(results: Mapping[str, Mapping[str, Sequence[Round]]]) -> str | None:
    """A note if the reference server's source changed between its starts."""
    digests = {
        str(r["source_digest"])
        for per_server in results.values()
        for r in per_server.get(REFERENCE, [])
        if r.get("source_digest")
    }
    if len(digests) > 1:
        return (
            f"{REFERENCE}'s source changed during this run ({len(digests)} versions: "
            f"{', '.join(sorted(digests))}); see source_digest per round in the JSON"
        )
    return None


def _ratio_cell(server: str, ref_rounds: Sequence[Round], rounds: Sequence[Round], key: str) -> str:
    if server == REFERENCE:
        return "1.00" if ref_rounds else "n/a"
    ratio = ratio_median(ref_rounds, rounds, key)
    return f"{ratio:.2f}" if ratio is not None else "n/a"


def render(results: Mapping[str, Mapping[str, Sequence[Round]]], notes: Sequence[str]) -> str:
    """All workload tables plus skip/failure notes, as one markdown string."""
    parts = [workload_table(w, per_server) for w, per_server in results.items() if per_server]
    changed = source_change_note(results)
    notes = [*notes, changed] if changed else list(notes)
    parts.append(
        f"Ratios are {REFERENCE}'s number divided by the peer's, paired by round, median "
        "over rounds: above 1 means asgi-master's number is larger (better for rates, "
        "worse for latency and memory). CPU worker/tree/core 0: share of one core used "
        "while measured by the worker, by the whole server process tree, and by every "
        "process on CPU 0 (the server's core). Worker well under 1.00 with core 0 near "
        "1.00 means other processes on this shared machine took CPU from the server; "
        "with core 0 also low, the server was waiting (on the client or on itself).\n"
    )
    if notes:
        parts.append(
            "Notes:\n\n" + "\n".join(f"- {' '.join(note.split())}" for note in notes) + "\n"
        )
    return "\n".join(parts)


def render_saved(results_file: Path, charts_dir: Path) -> int:
    """``run.py --render``: a saved run's tables on stdout and its charts as PNG files (one
    per workload, in ``charts_dir``); the exit status."""
    saved = json.loads(results_file.read_text())
    print(render(saved["results"], saved.get("notes", [])))
    try:
        from bench.charts import draw_charts
    except ImportError as exc:  # matplotlib, a bench dependency only
        print(f"no charts: {exc} (pip install 'asgi-master[bench]')", file=sys.stderr)
        return 2
    settings = saved.get("settings", {})
    subtitle = (
        f"run of {saved.get('date', '?')}: {settings.get('rounds', '?')} round(s) x "
        f"{settings.get('duration_s', '?')} s; bar = median over rounds, whisker = min..max"
    )
    for path in draw_charts(saved["results"], charts_dir, subtitle):
        print(f"chart: {path}", file=sys.stderr)
    return 0
