"""Workers follow the CPUs the process may use (its cgroup quota), not the host's cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cpu import cgroup_cpu_limit, gunicorn_workers, usable_cpus

V2_ONLY = "0::/\n"


def cgroup(tmp_path: Path, files: dict[str, str], membership: str = V2_ONLY) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup tree and /proc/self/cgroup in a temporary folder."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(membership)
    return root, proc


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [("150000 100000", 2), ("100000 100000", 1), ("50000 100000", 1), ("400000 100000", 4)],
)
def test_a_cgroup_v2_quota_rounds_up_to_whole_cpus(tmp_path: Path, cpu_max: str, cpus: int) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": cpu_max + "\n"})
    assert usable_cpus(root, proc, affinity=64) == cpus


def test_no_cgroup_v2_quota_leaves_the_affinity_mask(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(root, proc) is None
    assert usable_cpus(root, proc, affinity=3) == 3


def test_a_quota_larger_than_the_affinity_mask_is_capped_by_it(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": "800000 100000"})
    assert usable_cpus(root, proc, affinity=2) == 2


def test_a_parent_cgroup_limit_binds_the_cgroup_inside_it(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {"cpu.max": "max 100000", "pod/cpu.max": "200000 100000", "pod/app/cpu.max": "max 100000"},
        membership="0::/pod/app\n",
    )
    assert cgroup_cpu_limit(root, proc) == 2.0


def test_a_cgroup_v1_cfs_quota_is_read(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {"cpu,cpuacct/cpu.cfs_quota_us": "250000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
        membership="4:cpu,cpuacct:/\n1:name=systemd:/\n",
    )
    assert usable_cpus(root, proc, affinity=16) == 3


def test_a_cgroup_v1_quota_of_minus_one_means_no_limit(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"},
        membership="3:cpu:/\n",
    )
    assert usable_cpus(root, proc, affinity=5) == 5


@pytest.mark.parametrize("garbage", ["", "lots 100000", "100000", "-5 100000", "1 0"])
def test_an_unreadable_quota_is_ignored_rather_than_trusted(tmp_path: Path, garbage: str) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": garbage})
    assert usable_cpus(root, proc, affinity=4) == 4


def test_no_cgroup_files_at_all_leaves_the_affinity_mask(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "absent", tmp_path / "absent-too", affinity=6) == 6


def test_workers_are_two_per_cpu_plus_one_unless_web_concurrency_says(tmp_path: Path) -> None:
    assert gunicorn_workers(None, 1) == 3
    assert gunicorn_workers(None, 2) == 5
    assert gunicorn_workers(7, 2) == 7
