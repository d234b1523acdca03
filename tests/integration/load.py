"""A bounded load loop on 127.0.0.1: a few keep-alive clients counting every failure."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    pids: set[str] = field(default_factory=set)
    longest: float = 0.0


class LoadLoop:
    """``clients`` threads, each with its own keep-alive connection, until ``stop()``
    (or ``max_seconds``). Every response must be a complete 200; anything else is a failure."""

    def __init__(self, url: str, clients: int = 4, max_seconds: float = 60.0) -> None:
        self.url = url
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> LoadLoop:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.result

    def _client(self) -> None:
        with httpx.Client(timeout=20) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                started = time.monotonic()
                try:
                    response = client.get(self.url)
                    outcome = (
                        None
                        if response.status_code == 200 and response.text.startswith("pid=")
                        else f"status {response.status_code}: {response.text[:80]!r}"
                    )
                except httpx.HTTPError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                    response = None
                elapsed = time.monotonic() - started
                with self._lock:
                    self.result.longest = max(self.result.longest, elapsed)
                    if outcome is None and response is not None:
                        self.result.ok += 1
                        self.result.pids.add(response.text)
                    else:
                        self.result.failures.append(outcome or "?")
