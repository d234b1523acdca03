"""Worker memory with and without ``preload_app``: USS, PSS and RSS of each worker of a real
server, measured with psutil's ``memory_full_info`` after every worker has served requests.

    python -m bench.preload_memory [--app examples.frameworks.django_app:app] [--workers 4]
                                   [--rounds 3]

Runs alternate (plain, preload, plain, preload, ...) in one sitting and the median of each
figure is printed; the machine is shared, but memory, unlike time, hardly minds.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(app: str, workers: int, preload: bool, path: str) -> dict[str, float]:
    """Start a server, load every worker, and return per-worker means in MiB."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        args = [sys.executable, "-m", "asgi_master", app, "-w", str(workers)]
        args += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "--no-access-log"]
        args += ["--preload-app"] if preload else []
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log)
        try:
            master = psutil.Process(proc.pid)
            deadline = time.monotonic() + 60
            while len(master.children()) < workers or not _answers(port, path):
                if time.monotonic() > deadline or proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"server did not start:\n{log.read().decode()}")
                time.sleep(0.2)
            with httpx.Client() as client:  # new connections spread over the workers
                for _ in range(100 * workers):
                    client.get(f"http://127.0.0.1:{port}{path}", headers={"connection": "close"})
            time.sleep(1)
            infos = [child.memory_full_info() for child in master.children()]
            mib = 1024 * 1024
            return {
                "uss": statistics.mean(i.uss for i in infos) / mib,
                "pss": statistics.mean(i.pss for i in infos) / mib,
                "rss": statistics.mean(i.rss for i in infos) / mib,
                "master_rss": master.memory_info().rss / mib,
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def _answers(port: int, path: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", default="examples.frameworks.django_app:app")
    parser.add_argument("--path", default="/json")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for preload in (False, True):
            results[preload].append(measure(args.app, args.workers, preload, args.path))
    print(f"{args.app}, {args.workers} workers, median of {args.rounds} rounds (MiB per worker)")
    print(f"{'':12} {'USS':>7} {'PSS':>7} {'RSS':>7} {'master RSS':>11}")
    for preload in (False, True):
        rows = results[preload]
        cells = [statistics.median(r[key] for r in rows) for key in ("uss", "pss", "rss")]
        master = statistics.median(r["master_rss"] for r in rows)
        label = "preload_app" if preload else "plain"
        print(f"{label:12} {cells[0]:7.1f} {cells[1]:7.1f} {cells[2]:7.1f} {master:11.1f}")
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")


if __name__ == "__main__":
    main()
