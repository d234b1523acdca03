"""Load generators: wrk for HTTP, the Python clients for WebSocket and reload.

Every generator runs pinned to CPU 1 (``taskset -c 1``) so it never competes
with the server, which is pinned to CPU 0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from bench.servers import BENCH_DIR, HOST, ROOT_DIR

LOAD_CPU = "1"
MIB = 1024 * 1024

_UNITS_TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
# wrk prints sizes with binary multiples but names them KB/MB/GB.
_UNITS_SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class WrkResult:
    """What one wrk run reports. Latencies are in milliseconds."""

    requests: int = 0
    requests_per_s: float = 0.0
    transfer_per_s: float = 0.0  # bytes per second, as wrk counts them
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def errors(self) -> int:
        """Socket errors plus non-2xx/3xx responses."""
        return sum(self.socket_errors.values()) + self.non_2xx

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, with the error total included."""
        return {**asdict(self), "errors": self.errors}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"bad wrk time {text!r}")
    return float(match.group(1)) * _UNITS_TIME[match.group(2)]


def _bytes(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(B|KB|MB|GB|TB)", text)
    if not match:
        raise ValueError(f"bad wrk size {text!r}")
    return float(match.group(1)) * _UNITS_SIZE[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Parse wrk's text report (with or without ``--latency``)."""
    result = WrkResult()
    for raw in output.splitlines():
        line = raw.strip()
        parts = line.split()
        if line.startswith("Latency ") and len(parts) >= 4:
            result.max_ms = _ms(parts[3])
        elif re.fullmatch(r"50(\.0+)?%\s+\S+", line):
            result.p50_ms = _ms(parts[1])
        elif re.fullmatch(r"99(\.0+)?%\s+\S+", line):
            result.p99_ms = _ms(parts[1])
        elif re.match(r"\d+ requests in ", line):
            result.requests = int(parts[0])
        elif line.startswith("Requests/sec:"):
            result.requests_per_s = float(parts[1])
        elif line.startswith("Transfer/sec:"):
            result.transfer_per_s = _bytes(parts[1])
        elif line.startswith("Socket errors:"):
            for name, count in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]):
                result.socket_errors[name] = int(count)
        elif line.startswith("Non-2xx or 3xx responses:"):
            result.non_2xx = int(parts[-1])
    if result.requests_per_s == 0.0 and result.requests == 0 and "requests in" not in output:
        raise ValueError(f"unparseable wrk output: {output[-300:]!r}")
    return result


def run_wrk(
    port: int,
    path: str,
    duration: float,
    connections: int,
    script: str | None = None,
    env: dict[str, str] | None = None,
) -> WrkResult:
    """Run ``wrk -t1`` against 127.0.0.1:port on CPU 1 and parse its report."""
    argv = [
        "taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}",
        f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s",
    ]  # fmt: skip
    if script:
        argv += ["-s", str(BENCH_DIR / script)]
    argv.append(f"http://{HOST}:{port}{path}")
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return parse_wrk(proc.stdout)


def run_python_client(module: str, args: list[str], timeout: float) -> dict[str, object]:
    """Run ``python -m bench.<module>`` on CPU 1; return the JSON it prints last.

    Used for the WebSocket and reload clients, which print one JSON object.
    """
    return finish_python_client(start_python_client(module, args), timeout)


def start_python_client(module: str, args: list[str]) -> subprocess.Popen[str]:
    """Start ``python -m bench.<module>`` on CPU 1 without waiting for it."""
    argv = ["taskset", "-c", LOAD_CPU, sys.executable, "-m", f"bench.{module}", *args]
    return subprocess.Popen(
        argv,
        cwd=ROOT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT_DIR)},
    )


def finish_python_client(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    """Wait for a client from :func:`start_python_client`; return its JSON.

    A client that fails prints ``{"error": ...}``; that becomes a RuntimeError.
    """
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    lines = out.strip().splitlines()
    result: dict[str, object] = {}
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    if "error" in result:
        raise RuntimeError(str(result["error"]))
    if proc.returncode != 0 or not result:
        last = err.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"client exited {proc.returncode}: {last[0]}")
    return result
