"""Charts of a benchmark run: one PNG per workload, the servers side by side.

Each workload's metrics get a panel apiece (hello: req/s, p50, p99); a bar is the median over
rounds, the whisker spans the rounds' minimum to maximum, and asgi-master's bar is the coloured
one. The numbers are the same as the markdown tables' (``bench.report``), drawn.

matplotlib is a bench dependency only (``pip install 'asgi-master[bench]'``; bench/setup.sh
installs it into bench/.venv); the server never imports it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # after choosing the backend
from matplotlib.axes import Axes

from bench.report import REFERENCE, WORKLOAD_METRICS, WORKLOAD_TITLES, Metric, Round, fmt, values

REFERENCE_COLOUR = "#d9622b"
PEER_COLOUR = "#7b8a9a"


def draw_charts(
    results: Mapping[str, Mapping[str, Sequence[Round]]], out_dir: Path, subtitle: str = ""
) -> list[Path]:
    """Write ``<workload>.png`` into ``out_dir`` for every workload with numbers; the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for workload, per_server in results.items():
        if workload not in WORKLOAD_METRICS or not per_server:
            continue
        path = out_dir / f"{workload}.png"
        if _draw_workload(workload, per_server, path, subtitle):
            written.append(path)
    return written


def _draw_workload(
    workload: str, per_server: Mapping[str, Sequence[Round]], path: Path, subtitle: str
) -> bool:
    metrics = [m for m in WORKLOAD_METRICS[workload] if _any_values(per_server, m)]
    if not metrics:
        return False
    servers = list(per_server)
    width = max(4.0, 0.75 * len(servers) + 1.5)
    figure, axes = plt.subplots(1, len(metrics), figsize=(width * len(metrics), 4.6), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        _panel(axis, metric, servers, per_server)
    title = WORKLOAD_TITLES[workload]
    figure.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _any_values(per_server: Mapping[str, Sequence[Round]], metric: Metric) -> bool:
    return any(values(_good(rounds), metric.key) for rounds in per_server.values())


def _good(rounds: Sequence[Round]) -> list[Round]:
    return [r for r in rounds if "error" not in r]


def _panel(
    axis: Axes, metric: Metric, servers: Sequence[str], per_server: Mapping[str, Sequence[Round]]
) -> None:
    """One metric: a bar per server (median), whiskers from min to max, value on top."""
    medians: list[float] = []
    low: list[float] = []
    high: list[float] = []
    for server in servers:
        numbers = values(_good(per_server[server]), metric.key)
        median = statistics.median(numbers) if numbers else 0.0
        medians.append(median)
        low.append(median - min(numbers) if numbers else 0.0)
        high.append(max(numbers) - median if numbers else 0.0)
    positions = range(len(servers))
    colours = [REFERENCE_COLOUR if s == REFERENCE else PEER_COLOUR for s in servers]
    axis.bar(positions, medians, color=colours, yerr=[low, high], capsize=3)
    for x, server in enumerate(servers):
        numbers = values(_good(per_server[server]), metric.key)
        label = fmt(medians[x], metric.integer) if numbers else "failed"
        axis.annotate(  # above the whisker
            label, (x, medians[x] + high[x]), xytext=(0, 3), textcoords="offset points",
            ha="center", va="bottom", fontsize=7,
        )  # fmt: skip
    axis.set_xticks(list(positions), servers, rotation=30, ha="right", fontsize=8)
    axis.set_title(f"{metric.label} ({metric.better} is better)", fontsize=9)
    axis.margins(y=0.15)
    axis.spines[["top", "right"]].set_visible(False)
