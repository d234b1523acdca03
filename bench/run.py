"""Benchmark asgi-master against peer ASGI servers, interleaved, one worker each.

Usage (from the repository root, after ``bash bench/setup.sh``)::

    bench/.venv/bin/python bench/run.py                      # full suite, 3 rounds x 10 s
    bench/.venv/bin/python bench/run.py --smoke              # ~2 s per workload, 1 round
    bench/.venv/bin/python bench/run.py --workloads hello,ws --servers asgi-master,granian

Each round starts every server once (``bench.apps:app``, one worker, pinned
to CPU 0), runs the selected workloads against it with the load generator on
CPU 1, and stops it; servers take turns (A B C A B C ...) so that drift on a
shared machine hits all of them alike. Prints one markdown table per workload
and writes the raw numbers to ``bench/results/<timestamp>.json``. The HTTP/2
workloads (h2-hello, h2-stream, and h1-hello, asgi-master's own HTTP/1.1
reference through the same load generator) run after those rounds, in rounds
of their own, through bench/h2load.py (h2load; granian with ``--http 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (bench/run.py): make the ``bench`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import h2load
from bench import workloads as wl
from bench.load import run_wrk
from bench.report import REFERENCE, render, render_saved
from bench.servers import (
    BENCH_DIR,
    RunningServer,
    ServerError,
    ServerSpec,
    all_specs,
    check_available,
)

APP = "bench.apps:app"
DEFAULT_ASGI_MASTER_PYTHON = "/work/main/.venv/bin/python"
#: the HTTP/2 workloads (h2load; bench/h2load.py runs them, granian with --http 2)
H2_WORKLOADS = tuple(h2load.WORKLOADS)
ALL_WORKLOADS = (*wl.ALL_WORKLOADS, *H2_WORKLOADS)

Results = dict[str, dict[str, list[dict[str, object]]]]


def log(message: str) -> None:
    """Progress goes to stderr so stdout stays the markdown report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line options; see the module docstring."""
    parser = argparse.ArgumentParser(description="Benchmark asgi-master against peer ASGI servers.")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measurement (default 10)"
    )
    parser.add_argument(
        "--workloads",
        default=",".join((*wl.DEFAULT_WORKLOADS, *H2_WORKLOADS)),
        help=f"comma list from {','.join(ALL_WORKLOADS)} (default: all but reload)",
    )
    parser.add_argument(
        "--servers", default="", help="comma list of server names to run (default: all)"
    )
    parser.add_argument(
        "--asgi-master-python",
        default=DEFAULT_ASGI_MASTER_PYTHON,
        help="python that runs asgi_master (default %(default)s)",
    )
    parser.add_argument(
        "--rss-requests", type=int, default=100_000, help="hello requests for rss growth"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 round, ~2 s per workload: checks the harness works, numbers mean little",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="print the tables of a saved results file, draw them as charts (one PNG per "
        "workload, in --charts-dir; needs matplotlib) and exit (no benchmark)",
    )
    parser.add_argument(
        "--charts-dir",
        type=Path,
        default=BENCH_DIR / "charts",
        help="where --render writes <workload>.png (default: bench/charts)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=BENCH_DIR / "results", help="where JSON goes"
    )
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(ALL_WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if args.smoke:
        args.rounds, args.duration = 1, 2.0
        args.rss_requests = min(args.rss_requests, 10_000)
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return args


def machine_info() -> dict[str, object]:
    """What the numbers were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_session(
    spec: ServerSpec,
    round_no: int,
    selected: Sequence[str],
    settings: wl.Settings,
    results: Results,
    notes: list[str],
    log_dir: Path,
) -> None:
    """Start ``spec`` once, run its share of ``selected`` workloads, stop it."""
    todo = [w for w in selected if w != "reload" and spec.runs(w)]
    if not todo:
        return
    server = RunningServer(spec, APP, 1, log_dir / f"{spec.name}.log")
    log(f"round {round_no}: {spec.name} pid {server.pid} port {server.port}: {', '.join(todo)}")
    try:
        try:
            server.wait_ready()
            worker = server.worker_pid()
        except (ServerError, OSError) as exc:
            notes.append(f"round {round_no}: {spec.name} did not start: {exc}")
            for workload in todo:
                results[workload][spec.name].append({"round": round_no, "error": "no start"})
            log(f"  {spec.name} did not start: {exc}")
            return
        if "rss" in todo:
            _record(results, notes, spec, round_no, "rss", lambda: wl.rss(server, worker, settings))
        # Short warm-up so the first measured workload does not pay for it.
        run_wrk(server.port, "/", 1, connections=64)
        for workload in wl.HTTP_WORKLOADS:
            if workload not in todo:
                continue
            if not server.alive():
                results[workload][spec.name].append({"round": round_no, "error": "server died"})
                continue
            measure = wl.SESSION_WORKLOADS[workload]
            _record(
                results, notes, spec, round_no, workload,
                lambda m=measure: m(server, worker, settings),  # type: ignore[misc]
            )  # fmt: skip
    finally:
        code = server.stop()
        log(f"  {spec.name} stopped (exit {code})")


def _record(
    results: Results,
    notes: list[str],
    spec: ServerSpec,
    round_no: int,
    workload: str,
    measure: Callable[[], dict[str, object]],
) -> None:
    """Run one measurement; keep its numbers, or the error it raised."""
    try:
        result = measure()
    except Exception as exc:  # one failure must not end the run
        result = {"error": f"{type(exc).__name__}: {exc}"}
        notes.append(f"round {round_no}: {spec.name} {workload} failed: {result['error']}")
    result["round"] = round_no
    results[workload][spec.name].append(result)
    log(f"  {workload}: {_brief(workload, result)}")


def _brief(workload: str, result: dict[str, object]) -> str:
    keys = {
        "hello": ("requests_per_s", "p99_ms"),
        "close": ("requests_per_s", "p99_ms"),
        "stream": ("mib_per_s",),
        "upload": ("mib_per_s",),
        "ws": ("messages_per_s", "mismatches"),
        "rss": ("idle_mib", "growth_mib"),
        "reload": (
            "ok",
            "failed",
            "errors",
            "longest_stall_ms",
            "master_alive",
            "children_replaced",
        ),
    }[workload]
    if "error" in result:
        return f"error: {result['error']}"
    parts = [f"{k}={result.get(k)!r}" if not isinstance(result.get(k), float)
             else f"{k}={result[k]:.2f}" for k in (*keys, "server_cpu") if k in result]  # fmt: skip
    return " ".join(parts)


def run_reload(
    spec: ServerSpec,
    round_no: int,
    settings: wl.Settings,
    results: Results,
    notes: list[str],
    log_dir: Path,
) -> None:
    """Start ``spec`` with 2 workers and run the reload workload against it."""
    server = RunningServer(spec, APP, 2, log_dir / f"{spec.name}-reload.log")
    log(f"round {round_no}: {spec.name} (2 workers) pid {server.pid}: reload")
    try:
        try:
            server.wait_ready()
        except (ServerError, OSError) as exc:
            notes.append(f"round {round_no}: {spec.name} (reload) did not start: {exc}")
            results["reload"][spec.name].append({"round": round_no, "error": "no start"})
            return
        _record(results, notes, spec, round_no, "reload", lambda: wl.reload(server, settings))
        result = results["reload"][spec.name][-1]
        if result.get("errors"):
            notes.append(f"round {round_no}: {spec.name} reload errors: {result['errors']}")
        if "error" not in result and not result.get("master_alive"):
            notes.append(
                f"round {round_no}: {spec.name} master exited after SIGHUP "
                f"(code {result.get('master_exit_code')})"
            )
    finally:
        code = server.stop()
        log(f"  {spec.name} stopped (exit {code})")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables; return a process exit code."""
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render, args.charts_dir)
    for tool in ("taskset", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: run `bash bench/setup.sh` first", file=sys.stderr)
            return 2
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = args.results_dir / f"{stamp}-logs"
    settings = wl.Settings(duration=args.duration, rss_requests=args.rss_requests)

    wanted = {s.strip() for s in args.servers.split(",") if s.strip()}
    specs = [s for s in all_specs(args.asgi_master_python) if not wanted or s.name in wanted]
    notes: list[str] = []
    available: list[ServerSpec] = []
    for spec in specs:
        reason = check_available(spec)
        if reason:
            notes.append(f"{spec.name}: skipped ({reason})")
            log(f"skip {spec.name}: {reason}")
        else:
            available.append(spec)
            log(f"{spec.name}: {spec.versions}")
    if REFERENCE not in {s.name for s in available}:
        notes.append(f"{REFERENCE} not measured: ratio columns are n/a")

    h2_selected = [w for w in args.workloads if w in H2_WORKLOADS]
    args.workloads = [w for w in args.workloads if w not in H2_WORKLOADS]
    results: Results = {w: {s.name: [] for s in available if s.runs(w)} for w in args.workloads}
    for round_no in range(1, args.rounds + 1):
        for spec in available:
            run_session(spec, round_no, args.workloads, settings, results, notes, log_dir)
        if "reload" in args.workloads:
            for spec in available:
                if spec.supports_hup:
                    run_reload(spec, round_no, settings, results, notes, log_dir)
    if h2_selected and shutil.which("h2load") is not None:
        h2_results, h2_notes, _ = h2load.run_rounds(
            args.asgi_master_python, h2_selected, wanted, args.rounds, args.duration, log_dir
        )
        results.update(h2_results)
        notes += h2_notes
        args.workloads += h2_selected
    elif h2_selected:
        notes.append("h2 workloads skipped: h2load not found (apt-get install nghttp2-client)")

    report = render(results, notes)
    print(report)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{stamp}.json"
    payload = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "workloads": args.workloads,
            "rss_requests": args.rss_requests,
            "smoke": args.smoke,
        },
        "servers": {
            s.name: {"versions": s.versions, "command": s.build(APP, 0, 1)} for s in available
        },
        "notes": notes,
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2))
    (args.results_dir / f"{stamp}.md").write_text(report)
    log(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
