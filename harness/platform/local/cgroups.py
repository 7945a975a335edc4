"""Node cgroups: the kernel-real boundary of a "node" on the local platform.

A node (e.g. ``node-a``) is a cgroup subtree holding exactly its components'
processes: ``odoo-resilience/<run-id>/<node>/<component>``. Processes join their
leaf before they exec (see ``process.spawn``), so every child they fork (Patroni's
postmaster, PostgreSQL backends) stays inside. On that subtree the platform builds
its node faults: kill everything (crash), freeze/thaw (hang) and block-I/O
throttling (storage latency).

Two backends sit behind ``CgroupTree``: cgroup v1 (separate ``freezer`` and
``blkio`` hierarchies, what this machine has) and cgroup v2 (one unified hierarchy
with ``cgroup.freeze`` and ``io.max``) where the host delegates those controllers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from harness.errors import PlatformError, PrerequisiteMissing
from harness.platform.base import IoLimits

__all__ = ["CgroupTree", "IoLimits", "block_device_of"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
TREE_NAME = "odoo-resilience"


def block_device_of(path: Path) -> str:
    """``MAJ:MIN`` of the whole disk holding ``path`` (throttling applies to disks)."""
    st = os.stat(path)
    majmin = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    sys_dev = Path("/sys/dev/block") / majmin
    if not sys_dev.exists():
        raise PrerequisiteMissing(
            f"storage throttling needs a block device under {path}, but its device {majmin} is "
            "not a block device (tmpfs or overlay?). Put the run directory on a disk-backed "
            "filesystem (--run-dir)."
        )
    if (sys_dev / "partition").exists():
        disk = sys_dev.resolve().parent
        return (disk / "dev").read_text().strip()
    return majmin


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise PlatformError(
            f"could not write {value!r} to {path}: {exc.strerror}. The cgroup may have been "
            "removed under the harness, or the kernel refused the value."
        ) from exc


class CgroupTree:
    """The run's cgroup subtree, on cgroup v1 or v2.

    Paths passed to the methods are relative names inside the run's tree:
    ``"node-a"`` or ``"node-a/pg-1"``.
    """

    def __init__(self, run_id: str, root: Path = CGROUP_ROOT) -> None:
        self.run_id = run_id
        self._root = root
        self.version = self._detect(root)

    @staticmethod
    def _detect(root: Path) -> int:
        if (root / "cgroup.controllers").exists():
            controllers = (root / "cgroup.controllers").read_text().split()
            if "io" not in controllers:
                raise PrerequisiteMissing(
                    f"cgroup v2 at {root} does not offer the io controller (has: "
                    f"{' '.join(controllers) or 'none'}); node faults need it"
                )
            return 2
        if (root / "freezer").is_dir() and (root / "blkio").is_dir():
            return 1
        raise PrerequisiteMissing(
            f"node faults need cgroup v1 freezer+blkio or cgroup v2 under {root}; found neither. "
            "Mount them (e.g. `mount -t cgroup -o freezer none /sys/fs/cgroup/freezer`) or run "
            "on a host with cgroup v2."
        )

    @staticmethod
    def available(root: Path = CGROUP_ROOT) -> str | None:
        """None when cgroups can be used here, else the reason they cannot."""
        if os.geteuid() != 0:
            return "node faults need root to manage cgroups"
        try:
            CgroupTree._detect(root)
        except PrerequisiteMissing as exc:
            return str(exc)
        return None

    # -- layout -----------------------------------------------------------------
    def _dirs(self, name: str = "") -> list[Path]:
        rel = Path(TREE_NAME) / self.run_id / name if name else Path(TREE_NAME) / self.run_id
        if self.version == 2:
            return [self._root / rel]
        return [self._root / "freezer" / rel, self._root / "blkio" / rel]

    def create(self, name: str) -> None:
        """Create ``name`` (and its parents) in every hierarchy."""
        if self.version == 2:
            self._enable_v2_controllers(name)
        for directory in self._dirs(name):
            directory.mkdir(parents=True, exist_ok=True)

    def _enable_v2_controllers(self, name: str) -> None:
        # In v2 a controller is usable in a child only when every ancestor lists
        # it in cgroup.subtree_control.
        parts = (Path(TREE_NAME) / self.run_id / name).parts
        current = self._root
        for part in parts:
            with contextlib.suppress(OSError):
                (current / "cgroup.subtree_control").write_text("+io")
            current = current / part
            current.mkdir(exist_ok=True)

    def children(self, name: str) -> list[str]:
        """The names of the cgroups directly under ``name`` (a node's component leaves)."""
        top = self._dirs(name)[0]
        return sorted(p.name for p in top.iterdir() if p.is_dir()) if top.exists() else []

    def procs_files(self, name: str) -> list[Path]:
        """The ``cgroup.procs`` files a process writes its pid into to join ``name``."""
        return [d / "cgroup.procs" for d in self._dirs(name)]

    def pids(self, name: str = "") -> list[int]:
        """Every pid inside ``name`` and its descendants (the whole run when empty)."""
        top = self._dirs(name)[0]
        found: set[int] = set()
        if not top.exists():
            return []
        for dirpath, _dirnames, filenames in os.walk(top):
            if "cgroup.procs" in filenames:
                with contextlib.suppress(OSError):
                    text = (Path(dirpath) / "cgroup.procs").read_text()
                    found.update(int(p) for p in text.split())
        return sorted(found)

    # -- faults -----------------------------------------------------------------
    def freeze(self, name: str) -> None:
        """Stop every process of ``name`` where it stands; returns once the kernel says FROZEN."""
        self._set_frozen(name, True)

    def thaw(self, name: str) -> None:
        """Resume every process of ``name``."""
        self._set_frozen(name, False)

    def is_frozen(self, name: str) -> bool:
        top = self._dirs(name)[0]
        if self.version == 2:
            events = (top / "cgroup.events").read_text()
            return "frozen 1" in events
        return (top / "freezer.state").read_text().strip() == "FROZEN"

    def _set_frozen(self, name: str, frozen: bool) -> None:
        top = self._dirs(name)[0]
        if self.version == 2:
            _write(top / "cgroup.freeze", "1" if frozen else "0")
        else:
            _write(top / "freezer.state", "FROZEN" if frozen else "THAWED")
        deadline = time.monotonic() + 10.0
        while self.is_frozen(name) != frozen:
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"cgroup {name} did not become {'FROZEN' if frozen else 'THAWED'} within "
                    f"10 s; a process may be stuck in uninterruptible I/O (see {top})"
                )
            if self.version == 1:
                # v1 reports FREEZING while tasks are still being stopped; asking again
                # makes the kernel retry the ones it could not stop yet.
                _write(top / "freezer.state", "FROZEN" if frozen else "THAWED")
            time.sleep(0.01)

    def kill(self, name: str = "") -> list[int]:
        """SIGKILL every process of ``name`` at once: freeze, kill, thaw (no fork escapes).

        Returns the pids that were killed.
        """
        pids = self.pids(name)
        if not pids:
            return []
        self.freeze(name)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.thaw(name)
        return pids

    def throttle(self, name: str, device: str, limits: IoLimits) -> None:
        """Limit block I/O of ``name`` on ``device`` (``MAJ:MIN``)."""
        if self.version == 2:
            parts = []
            for key, value in (
                ("riops", limits.read_iops),
                ("wiops", limits.write_iops),
                ("rbps", limits.read_bps),
                ("wbps", limits.write_bps),
            ):
                if value is not None:
                    parts.append(f"{key}={value}")
            for target in self._leaves(name):
                _write(target / "io.max", f"{device} {' '.join(parts)}")
            return
        # v1 blkio throttling is not inherited by children on every kernel, so the
        # limit is set on the node and on each of its component leaves.
        for target in self._leaves(name):
            for fname, value in (
                ("blkio.throttle.read_iops_device", limits.read_iops),
                ("blkio.throttle.write_iops_device", limits.write_iops),
                ("blkio.throttle.read_bps_device", limits.read_bps),
                ("blkio.throttle.write_bps_device", limits.write_bps),
            ):
                if value is not None:
                    _write(target / fname, f"{device} {value}")

    def unthrottle(self, name: str, device: str) -> None:
        """Remove every block-I/O limit of ``name`` on ``device``."""
        for target in self._leaves(name):
            if self.version == 2:
                if (target / "io.max").exists():
                    _write(target / "io.max", f"{device} riops=max wiops=max rbps=max wbps=max")
                continue
            for fname in (
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
            ):
                if device in (target / fname).read_text():
                    _write(target / fname, f"{device} 0")

    def throttled(self, name: str) -> bool:
        """True when any block-I/O limit is set on ``name``."""
        top = self._leaves(name)[0]
        if self.version == 2:
            limits = (
                kv.split("=", 1)[1]
                for line in (top / "io.max").read_text().splitlines()
                for kv in line.split()[1:]
            )
            return any(value != "max" for value in limits)
        return any(
            (top / f).read_text().strip()
            for f in (
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
            )
        )

    def _leaves(self, name: str) -> list[Path]:
        top = self._dirs(name)[-1]  # the blkio dir on v1, the unified dir on v2
        return [top, *sorted(p for p in top.rglob("*") if p.is_dir())]

    def remove(self) -> None:
        """Remove the run's whole tree; its processes must be gone already."""
        for top in self._dirs():
            if not top.exists():
                continue
            # Children first: rmdir on a cgroup with children fails.
            for directory in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
                self._rmdir(directory)
            self._rmdir(top)
            parent = top.parent
            with contextlib.suppress(OSError):
                parent.rmdir()  # the shared odoo-resilience dir, when no other run uses it

    def _rmdir(self, directory: Path) -> None:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                directory.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    left = (
                        (directory / "cgroup.procs").read_text().split()
                        if (directory / "cgroup.procs").exists()
                        else []
                    )
                    raise PlatformError(
                        f"could not remove cgroup {directory}: {exc.strerror}; processes still "
                        f"inside: {' '.join(left) or 'none'}. Kill them and run `odoo-resilience "
                        "down` again."
                    ) from exc
                time.sleep(0.05)

    def exists(self) -> bool:
        return any(d.exists() for d in self._dirs())


# -- the kernel's view of a node (the landed checks read this, not our bookkeeping) --
def node_pids(run_id: str, node: str) -> list[int]:
    """Every pid whose cgroup path lies under ``<run_id>/<node>/`` (as /proc shows it)."""
    marker = f"/{run_id}/{node}/"
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "cgroup").read_text()
        except OSError:
            continue
        if marker in text or text.rstrip().endswith(f"/{run_id}/{node}"):
            found.append(int(entry.name))
    return sorted(found)


def node_freezer_states(run_id: str, node: str) -> dict[str, str]:
    """The kernel's freezer state of ``node``'s cgroup, per hierarchy file read.

    The cgroup directory comes from ``/proc/<pid>/cgroup`` of the node's processes,
    so this reads exactly the cgroup those processes are in.
    """
    states: dict[str, str] = {}
    for pid in node_pids(run_id, node):
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            _, controllers, path = line.split(":", 2)
            marker = f"/{run_id}/{node}"
            if marker not in path:
                continue
            node_path = path[: path.index(marker) + len(marker)].lstrip("/")
            if controllers == "freezer":
                state_file = Path("/sys/fs/cgroup/freezer", node_path, "freezer.state")
                with contextlib.suppress(OSError):
                    states[str(state_file)] = state_file.read_text().strip()
            elif controllers == "":
                events = Path("/sys/fs/cgroup", node_path, "cgroup.events")
                with contextlib.suppress(OSError):
                    frozen = "frozen 1" in events.read_text()
                    states[str(events)] = "FROZEN" if frozen else "THAWED"
        if states:
            return states
    return states
