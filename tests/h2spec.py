"""Run the h2spec HTTP/2 conformance suite (``../shared/tools/h2spec``, see its README) against
a server listening on a port, over h2c or TLS, and read its JUnit report.

    python -m tests.h2spec --port 8000                  # h2c (prior knowledge)
    python -m tests.h2spec --port 8443 --tls            # TLS, certificate not verified
    python -m tests.h2spec --port 8000 http2/5.1 http2/6.9.1/2

From a test: ``report = run_h2spec(port, tls=True)``; ``report.failed`` lists the cases that
failed, each with its id (``http2/3.5/2``, usable to rerun one case), title and h2spec's
message. Exit status of the script: 0 when no case failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: where the shared tools sit beside the repository; H2SPEC overrides it
DEFAULT_BINARY = ROOT.parent / "shared" / "tools" / "h2spec" / "h2spec"


@dataclass(frozen=True)
class H2specCase:
    """One h2spec case and how it went."""

    #: ``<section package>/<index in section>``, e.g. ``http2/6.9.1/2``
    id: str
    section: str
    title: str
    #: "passed", "failed" or "skipped"
    outcome: str
    message: str = ""


@dataclass(frozen=True)
class H2specReport:
    """All cases of one run."""

    cases: tuple[H2specCase, ...]

    @property
    def passed(self) -> list[H2specCase]:
        return [c for c in self.cases if c.outcome == "passed"]

    @property
    def failed(self) -> list[H2specCase]:
        return [c for c in self.cases if c.outcome == "failed"]

    @property
    def skipped(self) -> list[H2specCase]:
        return [c for c in self.cases if c.outcome == "skipped"]

    def summary(self) -> str:
        """One line, as h2spec prints it."""
        return (
            f"{len(self.cases)} tests, {len(self.passed)} passed, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed"
        )

    def describe_failures(self) -> str:
        """The failed cases, one paragraph each."""
        return "\n".join(
            f"{c.id} ({c.section}): {c.title}\n    " + c.message.replace("\n", "\n    ")
            for c in self.failed
        )


def parse_junit(text: str) -> H2specReport:
    """The cases of an h2spec JUnit report (``-j``): a testsuite per section, a testcase per
    case; ``<error>`` or ``<failure>`` inside means failed, ``<skipped>`` skipped."""
    cases: list[H2specCase] = []
    for suite in ElementTree.fromstring(text).iter("testsuite"):
        package = suite.get("package", "")
        section = suite.get("name", "")
        for index, case in enumerate(suite.iter("testcase"), 1):
            problem = case.find("error")
            if problem is None:
                problem = case.find("failure")
            if problem is not None:
                outcome = "failed"
                message = (problem.text or problem.get("message") or "").strip()
            elif case.find("skipped") is not None:
                outcome, message = "skipped", ""
            else:
                outcome, message = "passed", ""
            title = case.get("classname", "")
            cases.append(H2specCase(f"{package}/{index}", section, title, outcome, message))
    return H2specReport(tuple(cases))


def h2spec_binary() -> Path | None:
    """The h2spec executable, if it is there."""
    path = Path(os.environ.get("H2SPEC", DEFAULT_BINARY))
    return path if path.is_file() and os.access(path, os.X_OK) else None


def run_h2spec(
    port: int,
    *,
    tls: bool = False,
    host: str = "127.0.0.1",
    timeout: int = 5,
    cases: Sequence[str] = (),
    binary: Path | None = None,
    deadline: float = 600.0,
    path: str = "/",
) -> H2specReport:
    """Run h2spec against ``host:port`` (TLS without verifying the certificate if ``tls``);
    ``cases`` limits it to sections or case ids. ``timeout`` is h2spec's own per-case wait
    (its README recommends 5 s), ``deadline`` bounds the whole run. ``path`` is the one its
    requests go to: a route whose app reads the whole body before it answers keeps the cases
    that send a bad frame after the body from racing the response."""
    executable = binary or h2spec_binary()
    if executable is None:
        raise FileNotFoundError(f"h2spec not found at {DEFAULT_BINARY} (or $H2SPEC)")
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "h2spec.xml"
        argv = [str(executable), *cases, "-h", host, "-p", str(port), "-o", str(timeout)]
        argv += ["-P", path]
        argv += ["-j", str(junit)]
        if tls:
            argv += ["-t", "-k"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=deadline, check=False)
        if not junit.exists():
            tail = (proc.stdout + proc.stderr).strip()[-500:]
            raise RuntimeError(f"h2spec wrote no report (exit {proc.returncode}): {tail}")
        return parse_junit(junit.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description="Run h2spec against a port.")
    parser.add_argument("cases", nargs="*", help="sections or case ids (default: all)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls", action="store_true", help="connect over TLS (not verified)")
    parser.add_argument("--timeout", type=int, default=5, help="h2spec's per-case timeout, s")
    parser.add_argument("--path", default="/", help="the path of h2spec's requests")
    args = parser.parse_args(argv)
    report = run_h2spec(
        args.port,
        tls=args.tls,
        host=args.host,
        timeout=args.timeout,
        cases=args.cases,
        path=args.path,
    )
    if report.failed:
        print(report.describe_failures())
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
