"""Autobahn conformance: kosoku's fuzzing client against an echo app served by asgi-master.

Runs the Autobahn TestSuite cases 1-7, 9 (messages up to 4 MiB: 9.1.5/9.1.6/9.2.5/9.2.6, the
8 and 16 MiB ones, are left out), 10, and 12/13 (permessage-deflate) with messages up to 8 KiB
(sub-cases 1-6 and 11 of each group), writes Autobahn's report (``index.json`` and HTML) and
prints a summary: the count per verdict and every case that is not plainly OK, with kosoku's
reason. Exit status 1 if any case FAILED, was UNIMPLEMENTED or could not run.

kosoku's include patterns also match longer ids (``13.1.1`` selects ``13.1.10``..``13.1.18``
too), so the selection is passed as exact ids plus an exclude list of every other id.

Run from the repository root (about a minute on two cores)::

    .venv/bin/pip install kosoku
    .venv/bin/python -m bench.autobahn [--outdir bench/results/autobahn] [--cases "7.*"]

docs/websocket.md lists the cases that are not OK and why.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fnmatch
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: messages bigger than 4 MiB
_TOO_BIG = {"9.1.5", "9.1.6", "9.2.5", "9.2.6"}
#: sub-cases of 12.x/13.x whose messages are at most 8 KiB (16 B .. 8 KiB, and 8 KiB in
#: 256-byte fragments)
_SMALL_DEFLATE = {1, 2, 3, 4, 5, 6, 11}


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app under test: every message comes back as it came."""
    if scope["type"] != "websocket":
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        return
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def selected_cases(patterns: list[str] | None) -> list[str]:
    """The case ids this run covers, in case order."""
    from kosoku.cases import CASES

    chosen = []
    for case_id in CASES:
        major, *rest = case_id.split(".")
        if major in {"1", "2", "3", "4", "5", "6", "7", "10"}:
            keep = True
        elif major == "9":
            keep = case_id not in _TOO_BIG
        elif major in {"12", "13"}:
            keep = int(rest[-1]) in _SMALL_DEFLATE
        else:
            keep = False
        if keep and (not patterns or any(fnmatch.fnmatchcase(case_id, p) for p in patterns)):
            chosen.append(case_id)
    return chosen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"asgi-master exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("asgi-master did not start listening")


def summarise(results: list[Any]) -> int:
    """Print the verdict counts and every case that is not plainly OK; the exit status."""
    verdicts = collections.Counter(r.behavior.value for r in results)
    closes = collections.Counter(r.behavior_close.value for r in results)
    print(f"\n{len(results)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    print("closing handshake: " + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))
    bad = 0
    for r in results:
        behavior, close = r.behavior.value, r.behavior_close.value
        if behavior == "OK" and close == "OK":
            continue
        if not r.passed:
            bad += 1
        print(f"  {r.case_id:<9} {behavior:<13} close {close:<13} {r.result} / {r.result_close}")
    slow = sorted(results, key=lambda r: r.duration, reverse=True)[:5]
    print("slowest: " + ", ".join(f"{r.case_id} {r.duration} ms" for r in slow))
    return 1 if bad else 0


async def run(cases: list[str], outdir: str, parallelism: int, port: int) -> int:
    from kosoku import FailureError, run_fuzzingclient
    from kosoku._report import write_reports
    from kosoku.cases import CASES

    excluded = [case_id for case_id in CASES if case_id not in set(cases)]
    log_path = Path(outdir) / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as server_log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asgi_master",
                "bench.autobahn:echo",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=server_log,
            stderr=server_log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_listening(port, proc)
            started = time.monotonic()
            try:
                results = await run_fuzzingclient(
                    f"ws://127.0.0.1:{port}", cases, excluded, concurrency=parallelism
                )
            except FailureError as failure:
                results = failure.results
            print(f"ran {len(results)} cases in {time.monotonic() - started:.0f}s")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    write_reports(results, outdir)
    print(f"report: {outdir}/index.json (and index.html); server log: {log_path}")
    status = summarise(results)
    missing = set(cases) - {r.case_id for r in results}
    if missing:
        print(f"not run: {', '.join(sorted(missing))}")
        status = 1
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default="bench/results/autobahn")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--cases",
        nargs="*",
        metavar="GLOB",
        help="narrow the selection (fnmatch patterns on case ids)",
    )
    args = parser.parse_args()
    cases = selected_cases(args.cases)
    print(f"{len(cases)} cases selected")
    sys.exit(asyncio.run(run(cases, args.outdir, args.parallelism, args.port or _free_port())))


if __name__ == "__main__":
    main()
