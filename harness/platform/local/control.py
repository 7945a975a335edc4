"""The CLI's side of the local platform: ``up``, ``down`` and ``status``.

``up`` plans the run, starts the supervisor detached and follows its progress;
Ctrl-C asks the supervisor to stop what it started. ``down`` asks the supervisor
to tear down and waits; when the supervisor is gone (crashed, killed) it cleans
up from the plan and the run's cgroups itself.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from harness.errors import ConfigError, PlatformError
from harness.platform.local.plan import StackPlan, make_plan
from harness.platform.local.platform import LocalPlatform, render_status, status_as_json
from harness.platform.local.process import pid_running
from harness.platform.local.runstate import (
    Phase,
    clear_current,
    current_link,
    read_state,
    set_current,
)
from harness.platform.local.topology import DEFAULT_TOPOLOGY
from harness.settings import Settings, app_spec

EXIT_PLATFORM = 3
DOWN_TIMEOUT_S = 90.0


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def _follow(progress: Path, offset: int, out: TextIO) -> int:
    try:
        with open(progress) as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return offset
    out.write(chunk)
    out.flush()
    return offset + len(chunk.encode())


def up(settings: Settings, topology: Path | None, out: TextIO, odoo_bin: Path | None = None) -> int:
    topology_path = topology or DEFAULT_TOPOLOGY
    try:
        text = topology_path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read topology {topology_path}: {exc.strerror}") from exc
    run_id = new_run_id()
    run_dir = settings.run_root / run_id
    run_dir.mkdir(parents=True)
    os.chmod(settings.run_root, 0o755)
    make_plan(run_id, run_dir, text, str(topology_path), app_spec(settings, odoo_bin)).save()
    out.write(f"run {run_id} in {run_dir}\n")
    log = open(run_dir / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "harness.platform.local.supervisor", str(run_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    offset = 0
    try:
        while True:
            offset = _follow(run_dir / "progress.log", offset, out)
            state = read_state(run_dir)
            if state is not None and state.phase is Phase.READY:
                set_current(settings.run_root, run_dir)
                out.write(_endpoints_text(run_dir))
                return 0
            code = supervisor.poll()
            if code is not None:
                _follow(run_dir / "progress.log", offset, out)
                state = read_state(run_dir)
                reason = state.error if state and state.error else _tail(run_dir / "supervisor.log")
                out.write(f"up failed:\n{reason}\n")
                out.write(f"logs kept in {run_dir / 'logs'}\n")
                return code or EXIT_PLATFORM
            time.sleep(0.2)
    except KeyboardInterrupt:
        out.write("\ninterrupted: stopping everything already started...\n")
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=DOWN_TIMEOUT_S)
        _follow(run_dir / "progress.log", offset, out)
        return 130


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no {path})"


def _endpoints_text(run_dir: Path) -> str:
    data = json.loads((run_dir / "endpoints.json").read_text())
    lines = ["stack ready; endpoints (also in endpoints.json):"]
    for key in ("ingress_url", "toxiproxy_api", "traefik_api", "traefik_metrics"):
        lines.append(f"  {key:<16} {data[key]}")
    db = data["db"]
    lines.append(
        f"  {'db rw':<16} {db['rw']['host']}:{db['rw']['port']} "
        f"(dbname {db['dbname']}, user {db['user']})"
    )
    lines.append(f"  {'db ro':<16} {db['ro']['host']}:{db['ro']['port']}")
    lines.append(f"  {'redis':<16} {data['redis']['host']}:{data['redis']['port']}")
    s3 = data["s3"]
    lines.append(f"  {'s3':<16} https://{s3['endpoint']['host']}:{s3['endpoint']['port']}")
    lines.append(f"secrets: {run_dir / 'plan.json'} (mode 0600)")
    return "\n".join(lines) + "\n"


def _printer(out: TextIO) -> Callable[[str], None]:
    def write(message: str) -> None:
        out.write(message + "\n")

    return write


def resolve_run_dir(settings: Settings, run_dir: Path | None) -> Path:
    if run_dir is not None:
        return run_dir
    link = current_link(settings.run_root)
    if not link.is_symlink():
        raise PlatformError(
            f"no current run under {settings.run_root} (nothing is up, or it was started with "
            "another ODOO_RESILIENCE_RUN_ROOT); pass --run-dir"
        )
    return Path(os.readlink(link))


def down(settings: Settings, run_dir: Path | None, keep: bool, out: TextIO) -> int:
    run_dir = resolve_run_dir(settings, run_dir)
    state = read_state(run_dir)
    if keep:
        (run_dir / "keep-on-down").touch()
    started = time.monotonic()
    if state is not None and pid_running(state.supervisor_pid):
        os.kill(state.supervisor_pid, signal.SIGTERM)
        while pid_running(state.supervisor_pid):
            if time.monotonic() - started > DOWN_TIMEOUT_S:
                out.write("the supervisor did not stop in time; killing it and cleaning up\n")
                os.kill(state.supervisor_pid, signal.SIGKILL)
                break
            time.sleep(0.1)
    if run_dir.exists():
        # Supervisor gone (crashed, killed, or asked to keep data): make sure nothing is left.
        LocalPlatform(StackPlan.load(run_dir)).down(keep=keep, progress=_printer(out))
    clear_current(settings.run_root, run_dir)
    out.write(
        f"down in {time.monotonic() - started:.1f} s" + (f"; kept {run_dir}\n" if keep else "\n")
    )
    return 0


def status(settings: Settings, run_dir: Path | None, as_json: bool, out: TextIO) -> int:
    run_dir = resolve_run_dir(settings, run_dir)
    current = LocalPlatform(StackPlan.load(run_dir)).status()
    out.write(status_as_json(current) if as_json else render_status(current))
    out.write("\n")
    return 0
