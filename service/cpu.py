"""How many CPUs this process may use: the cgroup quota, then the affinity mask.

``os.cpu_count()`` counts the host's cores; in a container limited to one CPU on a 64-core
host, workers sized from it would be 129 processes fighting over one CPU's time slices.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _v2_quota(folder: Path) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"max 100000"`` or ``"150000 100000"``)."""
    text = _read(folder / "cpu.max")
    if text is None:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_quota(folder: Path) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1: none)."""
    quota_text, period_text = (
        _read(folder / "cpu.cfs_quota_us"),
        _read(folder / "cpu.cfs_period_us"),
    )
    if quota_text is None or period_text is None:
        return None
    try:
        quota, period = int(quota_text), int(period_text)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _own_cgroups(proc_self_cgroup: Path) -> tuple[str | None, str | None]:
    """This process's cgroup path in the v2 hierarchy and in v1's cpu controller."""
    v2 = v1 = None
    for line in (_read(proc_self_cgroup) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _ancestors(root: Path, path: str | None) -> list[Path]:
    """The folder of ``path`` under ``root`` and each of its parents up to ``root``: a limit
    set on a parent (a pod, a slice) binds every cgroup inside it."""
    folders = [root]
    if path:
        current = root
        for part in Path(path).parts[1:]:
            current = current / part
            folders.append(current)
    return folders


def cgroup_cpu_limit(
    root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """The tightest CPU quota over this process's cgroup and its parents, or None."""
    v2_path, v1_path = _own_cgroups(proc_self_cgroup)
    limits = [q for f in _ancestors(root, v2_path) if (q := _v2_quota(f)) is not None]
    for v1_root in (root / "cpu", root / "cpu,cpuacct"):
        limits += [q for f in _ancestors(v1_root, v1_path) if (q := _v1_quota(f)) is not None]
    return min(limits) if limits else None


def usable_cpus(
    root: Path = CGROUP_ROOT,
    proc_self_cgroup: Path = PROC_SELF_CGROUP,
    affinity: int | None = None,
) -> int:
    """Whole CPUs this process may use: the cgroup quota rounded up, capped by the CPUs it
    may be scheduled on, never less than one."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = affinity or os.cpu_count() or 1
    quota = cgroup_cpu_limit(root, proc_self_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def gunicorn_workers(setting: int | None, cpus: int) -> int:
    """Workers for gunicorn: WEB_CONCURRENCY when set, else two per usable CPU plus one
    (requests wait on the database more than on the CPU)."""
    return setting if setting is not None else 2 * cpus + 1
