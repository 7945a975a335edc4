"""Processes join their node's cgroup before exec, as the DB user; node faults are
kernel-real: freeze stops them, kill removes them all, throttling slows fsync."""

from __future__ import annotations

import pwd
import re
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ComponentFailed
from harness.platform.base import IoLimits
from harness.platform.local.cgroups import CgroupTree, block_device_of
from harness.platform.local.context import RunUser, StackContext
from harness.platform.local.process import (
    ProcessSpec,
    log_window,
    pid_running,
    run_checked,
    spawn,
    wait_ready,
)


@pytest.fixture
def ctx() -> Iterator[StackContext]:
    run_id = "test-" + secrets.token_hex(4)
    run_dir = Path(tempfile.mkdtemp(prefix="odoo-res-", dir="/var/tmp"))
    tree = CgroupTree(run_id)
    context = StackContext(run_id, run_dir, tree, RunUser.for_db_tier())
    yield context
    tree.kill()
    tree.remove()
    assert not tree.exists()
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)


def _counter(ctx: StackContext, name: str, node: str) -> tuple[Path, ProcessSpec]:
    out = ctx.data_dir(name, owner=ctx.db_user) / "count"
    # Written then renamed, so a reader never sees the file empty.
    script = (
        f"i=0; while true; do i=$((i+1)); echo $i > {out}.tmp; mv {out}.tmp {out}; sleep 0.02; done"
    )
    spec = ProcessSpec(
        name=name,
        argv=["/bin/sh", "-c", f"sleep 1000 & {script}"],
        log_path=ctx.log_path(name),
        user=ctx.db_user.name,
        cgroup_procs=ctx.cgroup_procs(node, name),
    )
    return out, spec


def _read_count(path: Path) -> int:
    text = path.read_text().strip()
    return int(text) if text else 0


def test_a_spawned_process_and_its_children_live_in_the_cgroup_as_the_db_user(
    ctx: StackContext,
) -> None:
    out, spec = _counter(ctx, "worker", "node-x")
    process = spawn(spec)
    wait_ready(process, lambda: out.exists() and _read_count(out) > 0, 10, "counter running")
    assert ctx.cgroups is not None
    pids = ctx.cgroups.pids("node-x")
    assert process.pid in pids
    assert len(pids) >= 2  # the shell and its background sleep
    with open(f"/proc/{process.pid}/status") as fh:
        uid_line = next(line for line in fh if line.startswith("Uid:"))
    assert int(uid_line.split()[1]) == pwd.getpwnam(ctx.db_user.name).pw_uid
    process.stop(grace_s=2)
    assert not process.alive()


def test_freeze_stops_progress_and_thaw_resumes_it(ctx: StackContext) -> None:
    assert ctx.cgroups is not None
    out, spec = _counter(ctx, "worker", "node-y")
    process = spawn(spec)
    wait_ready(process, lambda: out.exists() and _read_count(out) > 0, 10, "counter running")
    ctx.cgroups.freeze("node-y")
    assert ctx.cgroups.is_frozen("node-y")
    frozen_at = _read_count(out)
    time.sleep(0.5)
    assert _read_count(out) == frozen_at, "a frozen node kept running"
    ctx.cgroups.thaw("node-y")
    time.sleep(0.5)
    assert _read_count(out) > frozen_at + 5, "a thawed node did not resume"
    process.stop(grace_s=2)


def test_kill_removes_every_process_of_the_node_at_once(ctx: StackContext) -> None:
    assert ctx.cgroups is not None
    _, spec = _counter(ctx, "worker", "node-z")
    process = spawn(spec)
    wait_ready(process, lambda: len(ctx.cgroups.pids("node-z")) >= 2, 10, "two processes")  # type: ignore[union-attr]
    killed = ctx.cgroups.kill("node-z")
    assert len(killed) >= 2
    process.wait(timeout_s=5)
    deadline = time.monotonic() + 5
    while any(pid_running(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_running(p) for p in killed)
    assert ctx.cgroups.pids("node-z") == []


def _dsync_writes_seconds(ctx: StackContext, node: str, target: Path) -> float:
    assert ctx.cgroups is not None
    script = f"dd if=/dev/zero of={target} bs=4k count=30 oflag=dsync 2>/dev/null"
    start = time.monotonic()
    spec = ProcessSpec(
        name="dd",
        argv=["/bin/sh", "-c", script],
        log_path=ctx.log_path("dd"),
        cgroup_procs=ctx.cgroup_procs(node, "dd"),
    )
    assert spawn(spec).wait(timeout_s=120) == 0
    return time.monotonic() - start


def test_storage_throttling_really_slows_synchronous_writes(ctx: StackContext) -> None:
    assert ctx.cgroups is not None
    target = ctx.data_dir("dd") / "blob"
    device = block_device_of(ctx.run_dir)
    free = statistics.median(_dsync_writes_seconds(ctx, "node-io", target) for _ in range(3))
    ctx.cgroups.throttle("node-io", device, IoLimits(write_iops=20))
    assert ctx.cgroups.throttled("node-io")
    slow = _dsync_writes_seconds(ctx, "node-io", target)
    ctx.cgroups.unthrottle("node-io", device)
    assert not ctx.cgroups.throttled("node-io")
    print(f"\n30 O_DSYNC 4k writes: {free:.3f} s unthrottled, {slow:.3f} s at 20 write IOPS")
    assert slow > 1.0
    assert slow > 3 * free


def test_wait_ready_fails_fast_with_the_log_tail_when_the_process_exits(
    ctx: StackContext,
) -> None:
    spec = ProcessSpec(
        name="broken",
        argv=["/bin/sh", "-c", "echo 'FATAL: config is wrong' >&2; exit 3"],
        log_path=ctx.log_path("broken"),
    )
    process = spawn(spec)
    started = time.monotonic()
    with pytest.raises(ComponentFailed, match=r"(?s)exited with status 3.*FATAL: config is wrong"):
        wait_ready(process, lambda: False, 30, "never")
    assert time.monotonic() - started < 5


def test_run_checked_reports_the_command_and_its_output() -> None:
    with pytest.raises(ComponentFailed, match=r"(?s)exited with status 1.*no such thing"):
        run_checked(["/bin/sh", "-c", "echo no such thing >&2; exit 1"], "probe")
    assert run_checked(["id", "-un"], "whoami", user=RunUser.for_db_tier().name).strip() == (
        RunUser.for_db_tier().name
    )


def test_a_log_window_holds_what_came_after_its_start(tmp_path: Path) -> None:
    log = tmp_path / "pg-1.log"
    log.write_bytes(b"started\nready\n")
    start = log.stat().st_size
    with log.open("ab") as fh:
        fh.write(b"leader lost\npromoted\n")
    assert log_window(log, start, 1024) == "leader lost\npromoted\n"
    assert log_window(log, log.stat().st_size, 1024) == ""
    assert log_window(tmp_path / "absent.log", 0, 1024) == f"(no log at {tmp_path / 'absent.log'})"


def test_a_long_log_window_keeps_its_ends_whole_lines_and_says_what_it_left_out(
    tmp_path: Path,
) -> None:
    log = tmp_path / "traefik.log"
    lines = [f"line {i:04d} {'x' * 50}\n" for i in range(1000)]
    log.write_text("".join(lines))
    window = log_window(log, 0, 4096)
    assert len(window) < 4096 + 200
    assert window.startswith(lines[0])
    assert window.endswith(lines[-1])
    kept = [line + "\n" for line in window.splitlines()]
    marker = next(line for line in kept if line.startswith("[... "))
    assert all(line in lines for line in kept if line != marker)  # no line cut in half
    counted = re.search(r"\[\.\.\. ([\d,]+) bytes", marker)
    assert counted is not None
    left_out = int(counted.group(1).replace(",", ""))
    assert left_out == log.stat().st_size - len(window.encode()) + len(marker.encode())
    assert "traefik.log left out here: a log window keeps at most 4,096 bytes" in marker


def test_a_log_replaced_since_the_window_opened_is_shown_from_its_beginning(
    tmp_path: Path,
) -> None:
    log = tmp_path / "redis.log"
    log.write_text("fresh start\n")
    window = log_window(log, 10_000, 1024)
    assert window.endswith("fresh start\n")
    assert window.startswith("[redis.log is shorter than when the window opened (12 < 10,000")
