"""``workers = "auto"``: usable CPUs from fake cgroup v1/v2 file trees, and the converter."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from asgi_master.config import ConfigError, describe, load
from asgi_master.config.cpus import usable_cpus
from asgi_master.config.types import AutoWorkers, Workers


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_cgroup_v2_quota_is_rounded_up(tmp_path):
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/kubepods/pod1\n",
            "sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
        },
    )
    limit = usable_cpus(root, affinity=8)
    assert limit.count == 2
    assert "cpu.max" in limit.origin and "1.5" in limit.origin


def test_cgroup_v2_without_quota_uses_the_affinity(tmp_path):
    root = tree(tmp_path, {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "max 100000\n"})
    limit = usable_cpus(root, affinity=6)
    assert limit.count == 6
    assert "affinity" in limit.origin


def test_cgroup_v2_tightest_ancestor_wins(tmp_path):
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/a/b\n",
            "sys/fs/cgroup/a/cpu.max": "300000 100000\n",
            "sys/fs/cgroup/a/b/cpu.max": "max 100000\n",
        },
    )
    assert usable_cpus(root, affinity=16).count == 3


def test_cgroup_v2_namespaced_path_missing_falls_back_to_the_mount_root(tmp_path):
    root = tree(
        tmp_path,
        {"proc/self/cgroup": "0::/not/visible/here\n", "sys/fs/cgroup/cpu.max": "400000 100000\n"},
    )
    assert usable_cpus(root, affinity=16).count == 4


def test_cgroup_v1_cfs_quota(tmp_path):
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        },
    )
    limit = usable_cpus(root, affinity=32)
    assert limit.count == 3
    assert "cpu.cfs_quota_us" in limit.origin


def test_cgroup_v1_unlimited_quota_is_minus_one(tmp_path):
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "2:cpu:/\n",
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert usable_cpus(root, affinity=5).count == 5


def test_small_quota_still_gives_one_worker(tmp_path):
    root = tree(tmp_path, {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "10000 100000\n"})
    assert usable_cpus(root, affinity=4).count == 1


def test_quota_above_the_affinity_is_capped_by_it(tmp_path):
    root = tree(
        tmp_path, {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "800000 100000\n"}
    )
    limit = usable_cpus(root, affinity=2)
    assert limit.count == 2
    assert "affinity" in limit.origin


def test_no_proc_and_no_cgroup_files_use_the_affinity(tmp_path):
    assert usable_cpus(tmp_path, affinity=3).count == 3


def test_garbage_in_cgroup_files_is_ignored(tmp_path):
    root = tree(tmp_path, {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "lots\n"})
    assert usable_cpus(root, affinity=3).count == 3


def test_auto_converter_gives_a_count_that_remembers_its_origin():
    value = Workers().convert("auto")
    assert isinstance(value, AutoWorkers)
    assert value == usable_cpus().count
    assert pickle.loads(pickle.dumps(value)).origin == value.origin
    assert Workers().render(value).startswith(f'"auto"  # -> {int(value)} (')


@pytest.mark.parametrize("raw", [4, "4", " 4 "])
def test_a_number_of_workers_is_taken_as_given(raw):
    assert Workers().convert(raw) == 4
    assert not isinstance(Workers().convert(raw), AutoWorkers)


def test_default_is_auto_and_check_config_shows_the_number_found():
    config = load(["examples.hello:app"], {}).config
    assert isinstance(config.workers, AutoWorkers)
    line = next(li for li in describe(config).splitlines() if li.startswith("workers ="))
    assert f'"auto"  # -> {int(config.workers)} (' in line
    assert line.endswith("# default")


def test_zero_workers_is_refused_and_auto_is_suggested():
    with pytest.raises(ConfigError, match='or "auto"'):
        load(["examples.hello:app", "--workers", "0"], {})
