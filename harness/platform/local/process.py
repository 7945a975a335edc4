"""Starting, watching and stopping the local platform's daemons.

Each daemon runs in its own session (so a terminal's Ctrl-C reaches only the
harness), with stdout and stderr appended to its own log file, optionally as an
unprivileged user (PostgreSQL and Patroni refuse root) and inside its node's
cgroup leaf, which it joins *before* it execs so nothing it forks can escape.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ComponentFailed, PrerequisiteMissing

#: Exit status of the join-cgroup wrapper when the kernel refused the pid.
CGROUP_JOIN_FAILED = 97


@dataclass(frozen=True)
class ProcessSpec:
    """What to run for one component."""

    name: str
    argv: Sequence[str]
    log_path: Path
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    cgroup_procs: Sequence[Path] = ()


def require_binary(name: str, hint: str) -> str:
    """Absolute path of ``name`` on PATH, else PrerequisiteMissing with the fix."""
    found = shutil.which(name)
    if found is None:
        raise PrerequisiteMissing(f"{name} is not on PATH; {hint}")
    return found


def _wrapped_argv(spec: ProcessSpec) -> list[str]:
    argv = list(spec.argv)
    if spec.user is not None and os.geteuid() == 0 and spec.user != "root":
        argv = ["setpriv", "--reuid", spec.user, "--regid", spec.user, "--init-groups", "--", *argv]
    if spec.cgroup_procs:
        files = " ".join(shlex.quote(str(p)) for p in spec.cgroup_procs)
        script = (
            f'for f in {files}; do echo $$ > "$f" || exit {CGROUP_JOIN_FAILED}; done; exec "$@"'
        )
        argv = ["/bin/sh", "-c", script, spec.name, *argv]
    return argv


class Process:
    """A started daemon. Keeps the Popen so the harness reaps what it started."""

    def __init__(self, spec: ProcessSpec, popen: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self._popen = popen

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def returncode(self) -> int | None:
        return self._popen.poll()

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.spec.log_path, lines)

    def stop(self, grace_s: float = 10.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the process group, wait up to ``grace_s``, then SIGKILL it."""
        if self._popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, sig)
        try:
            self._popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGKILL)
            self._popen.wait(timeout=10)

    def wait(self, timeout_s: float) -> int:
        return self._popen.wait(timeout=timeout_s)


def spawn(spec: ProcessSpec) -> Process:
    """Start ``spec``; raise ComponentFailed when it cannot even be executed."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    if spec.user is not None and os.geteuid() == 0:
        pw = pwd.getpwnam(spec.user)
        with contextlib.suppress(FileNotFoundError):
            os.chown(spec.log_path, pw.pw_uid, pw.pw_gid)
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8"}
    env.update(spec.env)
    with open(spec.log_path, "ab") as log:
        log.write(
            f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {shlex.join(spec.argv)}\n".encode()
        )
        log.flush()
        try:
            popen = subprocess.Popen(
                _wrapped_argv(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise ComponentFailed(
                f"{spec.name}: could not execute {spec.argv[0]}: {exc.strerror}. "
                "Check that it is installed (`odoo-resilience doctor`)."
            ) from exc
    return Process(spec, popen)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def log_window(path: Path, start: int, max_bytes: int) -> str:
    """What ``path`` holds from byte ``start`` on, at most about ``max_bytes`` of it.

    A longer window keeps its first and last halves, cut at line ends, with a marker
    saying how many bytes were left out between them. A log now shorter than ``start``
    was replaced since: it is read from its beginning, and the text says so.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            note = ""
            if size < start:
                note = (
                    f"[{path.name} is shorter than when the window opened ({size:,} < "
                    f"{start:,} bytes): it was replaced, shown from its beginning]\n"
                )
                start = 0
            fh.seek(start)
            if size - start <= max_bytes:
                return note + fh.read(size - start).decode("utf-8", "replace")
            head = fh.read(max_bytes // 2)
            fh.seek(size - max_bytes // 2)
            tail = fh.read(max_bytes // 2)
    except FileNotFoundError:
        return f"(no log at {path})"
    head = head[: head.rfind(b"\n") + 1] or head
    tail = tail[tail.find(b"\n") + 1 :]
    left_out = size - start - len(head) - len(tail)
    marker = (
        f"[... {left_out:,} bytes of {path.name} left out here: a log window keeps at most "
        f"{max_bytes:,} bytes, its first and last halves ...]\n"
    )
    return note + head.decode("utf-8", "replace") + marker + tail.decode("utf-8", "replace")


def wait_ready(
    process: Process,
    check: Callable[[], bool],
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
) -> float:
    """Poll ``check`` until it is true; return the seconds it took.

    Fails fast with the log tail when the process exits, and with the log tail and
    a hint when ``timeout_s`` passes.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    while True:
        if not process.alive():
            code = process.returncode()
            reason = (
                "it could not join its cgroup"
                if code == CGROUP_JOIN_FAILED
                else f"it exited with status {code}"
            )
            raise ComponentFailed(
                f"{process.name} did not become ready ({what}): {reason}. "
                f"Last lines of {process.spec.log_path}:\n{process.log_tail()}"
            )
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        if time.monotonic() > deadline:
            raise ComponentFailed(
                f"{process.name} did not become ready within {timeout_s:.0f} s ({what}). "
                f"Last lines of {process.spec.log_path}:\n{process.log_tail()}\n"
                "Hint: the machine may be overloaded; look at the full log, or raise the "
                "component's start timeout in the topology."
            )
        time.sleep(interval_s)


def wait_until(
    check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1
) -> float:
    """Poll ``check`` (exceptions count as false) until true; ComponentFailed on timeout."""
    start = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise ComponentFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def run_checked(
    argv: Sequence[str],
    what: str,
    user: str | None = None,
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run a one-shot command (as ``user``), return its stdout; ComponentFailed with its output."""
    full = list(argv)
    if user is not None and os.geteuid() == 0 and user != "root":
        full = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "--", *full]
    merged = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8"}
    merged.update(env or {})
    try:
        done = subprocess.run(
            full, capture_output=True, text=True, timeout=timeout_s, env=merged, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ComponentFailed(
            f"{what}: `{shlex.join(argv)}` did not finish within {timeout_s:.0f} s"
        ) from exc
    except OSError as exc:
        raise ComponentFailed(f"{what}: could not run {argv[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        raise ComponentFailed(
            f"{what}: `{shlex.join(argv)}` exited with status {done.returncode}:\n"
            f"{(done.stdout + done.stderr).strip()[-2000:]}"
        )
    return done.stdout


def become_subreaper() -> None:
    """Adopt orphaned descendants (e.g. a postmaster whose Patroni was killed).

    PID 1 may not reap zombies (it does not on the machines this runs on in CI),
    so the process that owns a stack adopts and reaps them itself.
    """
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def reap_orphans(candidates: set[int]) -> list[int]:
    """Reap exited children of this process among ``candidates``; return their pids.

    Only pids the caller vouches for are touched, so a ``subprocess.run`` elsewhere
    in the process never has its child's exit status stolen.
    """
    me = os.getpid()
    reaped = []
    for pid in candidates:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, ...
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z" and int(ppid) == me:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
                reaped.append(pid)
    return reaped


def zombie_children() -> set[int]:
    """Exited children of this process nobody has waited for yet."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                state, ppid = fh.read().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if state == "Z" and ppid == me:
            found.add(int(entry))
    return found


def pid_running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
