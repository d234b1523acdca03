"""HTTP/2 benchmarks with h2load (Debian package nghttp2-client), in the style of bench/run.py:
servers take turns, one worker each pinned to CPU 0, h2load pinned to CPU 1, ratios to
asgi-master paired by round.

Usage (from the repository root, after ``bash bench/setup.sh``)::

    bench/.venv/bin/python bench/h2load.py                    # 3 rounds x 10 s
    bench/.venv/bin/python bench/h2load.py --smoke            # 1 round x 2 s: checks the harness
    bench/.venv/bin/python bench/h2load.py --servers hypercorn,granian

Workloads, over h2c (prior knowledge) on a plain port:

* ``h2-hello``: ``h2load -c16 -m32`` on ``/``: 16 connections with 32 streams in flight each;
  requests/s and the mean time per request.
* ``h2-stream``: ``h2load -c8 -m4`` on ``/stream`` (1 MiB in 16 parts of 64 KiB); MiB/s of
  response body (h2load's ``data`` bytes over the measured time).

* ``h1-hello``: ``h2load --h1 -c64`` on ``/``, asgi-master only: its HTTP/1.1 hello through
  the same load generator, the reference its h2-hello is held to (the report's notes give
  h2-hello / h1-hello paired by round).

Servers: asgi-master (its usual command), hypercorn (which speaks h2c on its HTTP port) and
granian with ``--http 2``. bench/run.py lists these workloads too (``run_rounds``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report
from bench.load import LOAD_CPU, MIB
from bench.servers import HOST, RunningServer, ServerError, ServerSpec, all_specs, check_available
from bench.workloads import CpuMeter, Settings

APP = "bench.apps:app"
DEFAULT_ASGI_MASTER_PYTHON = "/work/main/.venv/bin/python"
H2_SERVERS = ("asgi-master", "hypercorn", "granian")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_EMPTY_SETTINGS = struct.pack(">HBBBL", 0, 0, 4, 0, 0)

report.WORKLOAD_METRICS.update(
    {
        "h2-hello": [
            report.Metric("requests_per_s", "req/s", "higher"),
            report.Metric("mean_ms", "mean ms", "lower"),
        ],
        "h2-stream": [report.Metric("mib_per_s", "MiB/s", "higher")],
        "h1-hello": [
            report.Metric("requests_per_s", "req/s", "higher"),
            report.Metric("mean_ms", "mean ms", "lower"),
        ],
    }
)
report.WORKLOAD_TITLES.update(
    {
        "h2-hello": "h2-hello: GET / -> 13 bytes over h2c, h2load -c16 -m32",
        "h2-stream": "h2-stream: 1 MiB response in 16 x 64 KiB parts over h2c, h2load -c8 -m4 "
        "(MiB/s of response body)",
        "h1-hello": "h1-hello: GET / -> 13 bytes over HTTP/1.1, h2load --h1 -c64 (asgi-master "
        "only: the reference its h2-hello is held to, same load generator)",
    }
)


@dataclass
class H2loadResult:
    """What one h2load run reports (latencies in milliseconds, over the measured time)."""

    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    errored: int = 0
    timeout: int = 0
    non_2xx: int = 0
    seconds: float = 0.0
    requests_per_s: float = 0.0
    data_bytes: int = 0
    mean_ms: float | None = None
    max_ms: float | None = None

    @property
    def errors(self) -> int:
        """Requests that did not succeed with a 2xx."""
        return self.failed + self.errored + self.timeout + self.non_2xx

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, with the error total included."""
        return {**asdict(self), "errors": self.errors}


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"bad h2load time {text!r}")
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


def parse_h2load(output: str) -> H2loadResult:
    """Parse h2load's report (the lines after "finished in")."""
    result = H2loadResult()
    for raw in output.splitlines():
        line = raw.strip()
        if match := re.match(r"finished in ([\d.]+)s, ([\d.]+) req/s", line):
            result.seconds = float(match.group(1))
            result.requests_per_s = float(match.group(2))
        elif line.startswith("requests:"):
            counts = dict((word, int(number)) for number, word in re.findall(r"(\d+) (\w+)", line))
            result.requests = counts.get("total", 0)
            result.succeeded = counts.get("succeeded", 0)
            result.failed = counts.get("failed", 0)
            result.errored = counts.get("errored", 0)
            result.timeout = counts.get("timeout", 0)
        elif line.startswith("status codes:"):
            codes = dict((kind, int(number)) for number, kind in re.findall(r"(\d+) (\dxx)", line))
            result.non_2xx = sum(n for kind, n in codes.items() if kind != "2xx")
        elif line.startswith("traffic:") and (match := re.search(r"\((\d+)\) data", line)):
            result.data_bytes = int(match.group(1))
        elif line.startswith("time for request:"):
            parts = line.split()
            result.max_ms = _ms(parts[4])
            result.mean_ms = _ms(parts[5])
    return result


def run_h2load(
    port: int,
    path: str,
    duration: float,
    clients: int,
    streams: int,
    warm_up: float = 1.0,
    http1: bool = False,
) -> H2loadResult:
    """One timed h2load run (h2c prior knowledge, or HTTP/1.1 with ``http1``) on CPU 1."""
    argv = [
        "taskset", "-c", LOAD_CPU, "h2load", "-t1", f"-c{clients}", f"-m{streams}",
        "-D", f"{duration:g}", f"--warm-up-time={warm_up:g}", f"http://{HOST}:{port}{path}",
    ]  # fmt: skip
    if http1:
        argv.insert(4, "--h1")
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + warm_up + 60, check=False
    )
    result = parse_h2load(proc.stdout)
    if proc.returncode != 0 or not result.requests:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"h2load exited {proc.returncode}: {tail}")
    return result


def probe_h2(port: int, timeout: float = 1.0) -> socket.socket | bytes | None:
    """Send an HTTP/2 preface: the open connection if SETTINGS came back (the caller closes
    it), the first bytes of any other answer, or None if there was no answer."""
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return None
    head = b""
    try:
        sock.sendall(PREFACE + _EMPTY_SETTINGS)
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                break
            head += chunk
    except OSError:
        pass
    if len(head) == 9 and head[3] == 4:
        return sock
    sock.close()
    return head or None


class H2Server(RunningServer):
    """A started server, ready once it answers an HTTP/2 preface."""

    def wait_ready(self, timeout: float = 30.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise ServerError(f"exited with {self.proc.returncode}: {self.log_tail()}")
            answer = probe_h2(self.port)
            if isinstance(answer, socket.socket):
                answer.close()
                return time.monotonic() - start
            if answer is not None:
                raise ServerError(f"answers an HTTP/2 preface with {answer!r}, not SETTINGS")
            time.sleep(0.1)
        raise ServerError(f"no HTTP/2 answer within {timeout:.0f}s: {self.log_tail()}")

    def worker_pid(self) -> int:
        """The process owning an HTTP/2 connection we hold open."""
        sock = probe_h2(self.port, timeout=5.0)
        if not isinstance(sock, socket.socket):
            return self.pid
        with sock:
            client_port = sock.getsockname()[1]
            for proc in self.tree():
                try:
                    conns = proc.net_connections(kind="tcp")
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if any(
                    c.raddr and c.laddr.port == self.port and c.raddr.port == client_port
                    for c in conns
                ):
                    return proc.pid
        return self.pid


def _metered(
    server: RunningServer, worker: int, measure: Callable[[], dict[str, object]]
) -> dict[str, object]:
    meter = CpuMeter(worker, server.pid)
    result = measure()
    result.update(meter.shares())
    result["source_digest"] = server.source_digest
    return result


def h2_hello(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``h2load -c16 -m32`` on ``/``: requests/s and mean time per request."""
    return _metered(
        server, worker, lambda: run_h2load(server.port, "/", settings.duration, 16, 32).as_dict()
    )


def h2_stream(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``h2load -c8 -m4`` on ``/stream`` (1 MiB each): MiB/s of response body."""

    def measure() -> dict[str, object]:
        result = run_h2load(server.port, "/stream", settings.duration, 8, 4)
        return {**result.as_dict(), "mib_per_s": result.data_bytes / MIB / result.seconds}

    return _metered(server, worker, measure)


def h1_hello(server: RunningServer, worker: int, settings: Settings) -> dict[str, object]:
    """``h2load --h1 -c64`` on ``/``: the same load generator over HTTP/1.1 (one request in
    flight per connection, as wrk -c64)."""
    return _metered(
        server,
        worker,
        lambda: run_h2load(server.port, "/", settings.duration, 64, 1, http1=True).as_dict(),
    )


WORKLOADS: dict[str, Callable[[RunningServer, int, Settings], dict[str, object]]] = {
    "h2-hello": h2_hello,
    "h2-stream": h2_stream,
    "h1-hello": h1_hello,
}
#: workloads measured on asgi-master alone
OWN_ONLY = frozenset({"h1-hello"})


def h2_specs(asgi_master_python: str) -> list[ServerSpec]:
    """The servers of bench/servers.py that take part, granian with ``--http 2``."""
    specs = {s.name: s for s in all_specs(asgi_master_python)}
    granian = specs["granian"]

    def granian_h2(app: str, port: int, workers: int) -> list[str]:
        return [*granian.build(app, port, workers)[:-1], "--http", "2", app]

    return [
        specs["asgi-master"],
        specs["hypercorn"],
        replace(granian, build=granian_h2, note="--http 2"),
    ]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="HTTP/2 benchmarks with h2load.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--servers", default=",".join(H2_SERVERS))
    parser.add_argument("--asgi-master-python", default=DEFAULT_ASGI_MASTER_PYTHON)
    parser.add_argument("--smoke", action="store_true", help="1 round x 2 s: checks the harness")
    parser.add_argument("--results-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    if unknown := set(args.workloads) - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if args.smoke:
        args.rounds, args.duration = 1, 2.0
    return args


def run_rounds(
    asgi_master_python: str,
    workloads: Sequence[str],
    servers: set[str],
    rounds: int,
    duration: float,
    log_dir: Path,
) -> tuple[dict[str, dict[str, list[dict[str, object]]]], list[str], list[ServerSpec]]:
    """Servers take turns for ``rounds`` rounds, each running ``workloads``: the results by
    workload and server, the notes, and the servers measured. (bench/run.py calls this for
    its h2 workloads.)"""
    settings = Settings(duration=duration, rss_requests=0)
    notes: list[str] = []
    available = []
    for spec in h2_specs(asgi_master_python):
        if servers and spec.name not in servers:
            continue
        reason = check_available(spec)
        if reason:
            notes.append(f"{spec.name}: skipped ({reason})")
        else:
            available.append(spec)
    results: dict[str, dict[str, list[dict[str, object]]]] = {
        w: {s.name: [] for s in available if w not in OWN_ONLY or s.name == report.REFERENCE}
        for w in workloads
    }
    for round_no in range(1, rounds + 1):
        for spec in available:
            server = H2Server(spec, APP, 1, log_dir / f"{spec.name}-h2.log")
            log(f"round {round_no}: {spec.name} pid {server.pid} port {server.port}")
            try:
                try:
                    server.wait_ready()
                    worker = server.worker_pid()
                except ServerError as exc:
                    notes.append(f"round {round_no}: {spec.name} did not answer HTTP/2: {exc}")
                    for workload in workloads:
                        if spec.name in results[workload]:
                            results[workload][spec.name].append(
                                {"round": round_no, "error": "no h2"}
                            )
                    continue
                run_h2load(server.port, "/", 1, 4, 8, warm_up=0)  # unmeasured warm-up
                for workload in workloads:
                    if spec.name not in results[workload]:
                        continue
                    try:
                        result = WORKLOADS[workload](server, worker, settings)
                    except Exception as exc:  # one failure must not end the run
                        result = {"error": f"{type(exc).__name__}: {exc}"}
                        notes.append(f"round {round_no}: {spec.name} {workload}: {result['error']}")
                    result["round"] = round_no
                    results[workload][spec.name].append(result)
                    keys = ("requests_per_s", "mib_per_s", "errors", "server_cpu", "error")
                    log(
                        f"  {workload}: "
                        + ", ".join(f"{k}={result[k]}" for k in keys if k in result)
                    )
            finally:
                log(f"  {spec.name} stopped (exit {server.stop()})")
    own = ratio_note(results)
    if own:
        notes.append(own)
    return results, notes, available


def ratio_note(results: dict[str, dict[str, list[dict[str, object]]]]) -> str | None:
    """asgi-master's h2-hello over its h1-hello, paired by round (the target is >= 0.6)."""
    own = report.REFERENCE
    h2 = {r["round"]: r.get("requests_per_s") for r in results.get("h2-hello", {}).get(own, [])}
    h1 = {r["round"]: r.get("requests_per_s") for r in results.get("h1-hello", {}).get(own, [])}
    ratios = [
        h2_rate / h1_rate
        for number, h2_rate in h2.items()
        if isinstance(h2_rate, float) and isinstance(h1_rate := h1.get(number), float) and h1_rate
    ]
    if not ratios:
        return None
    return (
        "asgi-master h2-hello / h1-hello (same server, same load generator), paired by round: "
        f"median {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the HTTP/2 benchmark; print the tables; return an exit code."""
    args = parse_args(argv)
    for tool in ("taskset", "h2load"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (h2load: apt-get install nghttp2-client)", file=sys.stderr)
            return 2
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = args.results_dir / f"{stamp}-h2-logs"
    wanted = set(args.servers.split(","))
    results, notes, available = run_rounds(
        args.asgi_master_python, args.workloads, wanted, args.rounds, args.duration, log_dir
    )
    text = report.render(results, notes)
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{stamp}-h2.json"
    payload = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "settings": {"rounds": args.rounds, "duration_s": args.duration, "smoke": args.smoke},
        "servers": {
            s.name: {"versions": s.versions, "command": s.build(APP, 0, 1)} for s in available
        },
        "notes": notes,
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2))
    log(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
