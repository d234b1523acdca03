"""How many CPUs this process may use: the cgroup CPU quota when one is set, else its affinity.

``workers = "auto"`` sizes the pool with this. In a container the CPU count the kernel reports
is the host's; the quota (Kubernetes' CPU limit, systemd's ``CPUQuota=``, ``docker --cpus``) is
what the process really gets, so a pod limited to 2 CPUs on a 64-core node starts 2 workers.

Theory of operation: read ``/proc/self/cgroup`` for the process's cgroup, then the quota files
of that cgroup and each ancestor (the tightest limit wins, as the kernel applies them all):
cgroup v2 ``cpu.max`` ("QUOTA PERIOD" or "max PERIOD") and cgroup v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` (-1: none). A quota is rounded up (1.5 CPUs -> 2 workers) and capped by the
affinity count. Every path is taken under ``root``, so tests give a fake file tree.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

#: where cgroup v1 mounts the cpu controller, by distribution habit
_V1_CPU_DIRS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


@dataclass(frozen=True, slots=True)
class CPULimit:
    """A number of usable CPUs and what it was found from (for ``--check-config``)."""

    count: int
    origin: str


@dataclass(frozen=True, slots=True)
class _Quota:
    cpus: float
    file: str


def usable_cpus(root: str | os.PathLike[str] = "/", affinity: int | None = None) -> CPULimit:
    """The CPUs this process may use: the cgroup quota rounded up, capped by the affinity."""
    if affinity is None:
        affinity = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    affinity = max(affinity, 1)
    quota = cgroup_quota(Path(root))
    if quota is None:
        return CPULimit(affinity, f"{_plural(affinity)} in the CPU affinity; no cgroup quota")
    count = max(1, math.ceil(quota.cpus - 1e-9))
    if count > affinity:
        return CPULimit(
            affinity,
            f"{_plural(affinity)} in the CPU affinity, below the "
            f"cgroup {quota.file} quota of {quota.cpus:g}",
        )
    return CPULimit(count, f"cgroup {quota.file} quota of {quota.cpus:g} CPUs")


def _plural(count: int) -> str:
    return f"{count} CPU" if count == 1 else f"{count} CPUs"


def cgroup_quota(root: Path) -> _Quota | None:
    """The tightest CPU quota over this process's cgroup and its ancestors, or None."""
    groups = _own_cgroups(root)
    base = root / "sys" / "fs" / "cgroup"
    found: list[_Quota] = []
    if "" in groups:  # cgroup v2 (unified), possibly beside v1 controllers ("hybrid")
        for directory in _ancestors(base, groups[""]):
            found += _read_v2(directory / "cpu.max")
        for directory in _ancestors(base / "unified", groups[""]):
            found += _read_v2(directory / "cpu.max")
    for controllers, path in groups.items():
        if "cpu" not in controllers.split(","):
            continue
        for name in _V1_CPU_DIRS:
            for directory in _ancestors(base / name, path):
                found += _read_v1(directory)
    return min(found, key=lambda q: q.cpus) if found else None


def _own_cgroups(root: Path) -> dict[str, str]:
    """``{controllers: path}`` from /proc/self/cgroup ("" is the v2 unified hierarchy)."""
    groups: dict[str, str] = {}
    try:
        text = (root / "proc" / "self" / "cgroup").read_text()
    except OSError:
        return {"": "/"}  # no procfs view: look at the mount root only
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            groups[parts[1]] = parts[2]
    return groups


def _ancestors(mount: Path, path: str) -> list[Path]:
    """The cgroup's directory under ``mount`` and every parent up to the mount itself.

    Inside a cgroup namespace the path may not exist under the mount (it is "/" there, or the
    mount shows only the container's subtree); missing directories are skipped.
    """
    parts = [p for p in path.split("/") if p]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _read_v2(path: Path) -> list[_Quota]:
    try:
        quota, _, period = path.read_text().strip().partition(" ")
    except OSError:
        return []
    if quota == "max" or not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return []
    return [_Quota(int(quota) / int(period), "cpu.max")]


def _read_v1(directory: Path) -> list[_Quota]:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text().strip())
        period = int((directory / "cpu.cfs_period_us").read_text().strip())
    except (OSError, ValueError):
        return []
    if quota <= 0 or period <= 0:
        return []
    return [_Quota(quota / period, "cpu.cfs_quota_us")]
