"""The local platform's edge and storage against the real daemons: Redis, SeaweedFS S3
over TLS, pgBackRest into it from a throwaway PostgreSQL 15, Traefik in front of app
instances. Each test proves its component restarts on the same port, and teardown
proves no process, port or cgroup is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from harness.platform.local.apps import AppInstance
from harness.platform.local.cgroups import CgroupTree
from harness.platform.local.component import LocalComponent
from harness.platform.local.context import RunUser, StackContext
from harness.platform.local.pgbackrest import BackupType, PgBackRest, PgMember
from harness.platform.local.ports import pick_free_ports, port_is_listening
from harness.platform.local.process import (
    Process,
    ProcessSpec,
    run_checked,
    spawn,
    wait_ready,
)
from harness.platform.local.redis import Redis, redis_command
from harness.platform.local.seaweedfs import S3Credentials, SeaweedFS, SeaweedGrpcPorts
from harness.platform.local.traefik import ServerState, Traefik
from harness.s3 import S3Client

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HEALTH_APP = Path(__file__).resolve().parents[3] / "fixtures" / "health_app.py"
HEALTH_INTERVAL_MS = 500


@dataclass
class EdgeRun:
    """One run directory and cgroup tree; remembers every port so teardown can check it."""

    ctx: StackContext
    ports: list[int] = field(default_factory=list)

    def ports_for(self, count: int) -> list[int]:
        picked = pick_free_ports(count)
        self.ports.extend(picked)
        return picked


@pytest.fixture
def edge_run() -> Iterator[EdgeRun]:
    run_id = f"edge-{uuid.uuid4().hex[:8]}"
    run_dir = Path(tempfile.mkdtemp(prefix="odoo-res-"))
    os.chmod(run_dir, 0o755)
    cgroups = CgroupTree(run_id)
    run = EdgeRun(StackContext(run_id, run_dir, cgroups, RunUser.for_db_tier()))
    try:
        yield run
        left = cgroups.pids()
        listening = [p for p in run.ports if port_is_listening(p)]
        assert left == [], f"processes left in the run's cgroups: {left}"
        assert listening == [], f"ports still listening after teardown: {listening}"
    finally:
        cgroups.kill()
        cgroups.remove()
        shutil.rmtree(run_dir)


def start_seaweedfs(run: EdgeRun) -> SeaweedFS:
    s3, master, volume, filer, *grpc = run.ports_for(8)
    seaweed = SeaweedFS(
        run.ctx,
        "node-s",
        s3_port=s3,
        master_port=master,
        volume_port=volume,
        filer_port=filer,
        credentials=S3Credentials.generate(),
        grpc_ports=SeaweedGrpcPorts(*grpc),
    )
    seaweed.start()
    return seaweed


# -- Redis ---------------------------------------------------------------------------
def test_redis_answers_resp_and_restarts_on_its_port(edge_run: EdgeRun) -> None:
    (port,) = edge_run.ports_for(1)
    redis = Redis(edge_run.ctx, "node-a", port)
    _: LocalComponent = redis
    try:
        redis.start()
        assert redis.pid() is not None
        assert redis_command(port, "SET", "session:1", "alice") == "OK"
        assert redis_command(port, "GET", "session:1") == b"alice"
        assert redis_command(port, "GET", "missing") is None
        assert redis_command(port, "INCR", "counter") == 1

        redis.stop()
        assert not redis.healthy()
        assert not port_is_listening(port)
        redis.start()
        assert redis.healthy()
        # No persistence by default: a restart is a cache loss.
        assert redis_command(port, "GET", "session:1") is None
    finally:
        redis.stop()


# -- pgBackRest ----------------------------------------------------------------------
def start_throwaway_postgres(run: EdgeRun, archive_command: str, member: PgMember) -> Process:
    user = run.ctx.db_user.name
    run_checked(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(member.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        "initdb of the throwaway PostgreSQL",
        user=user,
    )
    process = spawn(
        ProcessSpec(
            name=member.name,
            argv=[
                str(PG_BIN / "postgres"),
                "-D",
                str(member.data_dir),
                "-c",
                f"port={member.port}",
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={member.socket_dir}",
                "-c",
                "wal_level=replica",
                "-c",
                "archive_mode=on",
                "-c",
                f"archive_command={archive_command}",
                "-c",
                "fsync=off",
            ],
            log_path=run.ctx.log_path(member.name),
            user=user,
            cgroup_procs=run.ctx.cgroup_procs("node-b", member.name),
        )
    )
    wait_ready(
        process,
        lambda: bool(
            run_checked(
                [str(PG_BIN / "pg_isready"), "-h", str(member.socket_dir), "-p", str(member.port)],
                "pg_isready",
            )
        ),
        60.0,
        "pg_isready",
    )
    return process


def test_pgbackrest_archives_wal_and_backs_up_to_s3_over_tls(edge_run: EdgeRun) -> None:
    ctx = edge_run.ctx
    seaweed = start_seaweedfs(edge_run)
    postgres: Process | None = None
    try:
        (pg_port,) = edge_run.ports_for(1)
        member = PgMember(
            name="pg-1",
            data_dir=ctx.data_dir("pg-1", owner=ctx.db_user, mode=0o700),
            port=pg_port,
            socket_dir=ctx.data_dir("pg-1-socket", owner=ctx.db_user, mode=0o755),
        )
        backrest = PgBackRest(ctx, "odoo", seaweed.access, [member])
        assert "archive-push %p" in backrest.archive_command
        postgres = start_throwaway_postgres(edge_run, backrest.archive_command, member)

        started = time.monotonic()
        backrest.stanza_create()
        backrest.check()
        backrest.backup(BackupType.FULL)
        took_s = time.monotonic() - started

        info = backrest.info()
        assert info.ok, info.status_message
        assert [b.type for b in info.backups] == [BackupType.FULL]
        backup = info.backups[0]
        assert not backup.error
        assert backup.database_size_bytes > 10_000_000
        assert info.archive_min is not None
        assert info.archive_max is not None
        assert backup.wal_start >= info.archive_min
        assert backup.wal_stop <= info.archive_max
        # The repository really is in the S3 bucket, not on local disk.
        with S3Client.from_access(seaweed.access) as s3:
            keys = [o.key for o in s3.list_objects(seaweed.access.backups_bucket, "pgbackrest/")]
        assert any(
            k.startswith(f"pgbackrest/archive/odoo/15-1/{backup.wal_start[:16]}") for k in keys
        )
        assert any(k.startswith(f"pgbackrest/backup/odoo/{backup.label}/") for k in keys)
        print(f"stanza-create + check + full backup took {took_s:.1f} s")
    finally:
        if postgres is not None:
            postgres.stop(30.0, sig=signal.SIGINT)
        seaweed.stop()


# -- Traefik and app instances -------------------------------------------------------
def app_instance(run: EdgeRun, name: str) -> AppInstance:
    (port,) = run.ports_for(1)
    return AppInstance(
        run.ctx,
        "node-a",
        name,
        port=port,
        argv=[sys.executable, str(HEALTH_APP), "--name", name, "--port", str(port)],
        env={},
    )


def whoami_counts(client: httpx.Client, url: str, requests: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(requests):
        response = client.get(f"{url}/whoami")
        counts[response.text if response.status_code == 200 else str(response.status_code)] += 1
    return counts


def test_traefik_balances_moves_weights_and_drops_dead_instances(edge_run: EdgeRun) -> None:
    apps = [app_instance(edge_run, f"app-{i}") for i in (1, 2, 3)]
    web, api, metrics = edge_run.ports_for(3)
    traefik = Traefik(
        edge_run.ctx,
        "node-edge",
        web_port=web,
        api_port=api,
        metrics_port=metrics,
        services={"odoo-blue": [apps[0].url, apps[1].url], "odoo-green": [apps[2].url]},
        health_interval_ms=HEALTH_INTERVAL_MS,
        health_timeout_ms=300,
    )
    components: list[LocalComponent] = [*apps, traefik]
    try:
        for component in components:
            component.start()
        with httpx.Client(timeout=5.0) as client:
            # Equal weights: every instance answers.
            counts = whoami_counts(client, traefik.web_url, 60)
            assert set(counts) == {"app-1", "app-2", "app-3"}, counts

            # Blue/green: all traffic to blue.
            traefik.set_weights({"odoo-blue": 100, "odoo-green": 0})
            counts = whoami_counts(client, traefik.web_url, 60)
            assert set(counts) == {"app-1", "app-2"}, counts

            # An instance killed: the health check marks it DOWN and traffic stops reaching it.
            victim = apps[1]
            victim_pid = victim.pid()
            assert victim_pid is not None
            killed_at = time.monotonic()
            os.kill(victim_pid, signal.SIGKILL)
            marked_down_s: float | None = None
            last_failure_s = 0.0
            while time.monotonic() - killed_at < 4 * HEALTH_INTERVAL_MS / 1000:
                response = client.get(f"{traefik.web_url}/whoami")
                now_s = time.monotonic() - killed_at
                if response.status_code != 200:
                    last_failure_s = now_s
                else:
                    assert response.text == "app-1"
                if (
                    marked_down_s is None
                    and traefik.server_status()["odoo-blue"].get(victim.url) == ServerState.DOWN
                ):
                    marked_down_s = now_s
            print(
                f"killed instance marked DOWN after {marked_down_s} s, last failed request "
                f"{last_failure_s:.3f} s after the kill (interval {HEALTH_INTERVAL_MS} ms)"
            )
            assert marked_down_s is not None
            assert marked_down_s <= 2 * HEALTH_INTERVAL_MS / 1000 + 0.3
            assert last_failure_s <= 2 * HEALTH_INTERVAL_MS / 1000 + 0.3
            assert whoami_counts(client, traefik.web_url, 30) == Counter({"app-1": 30})

            # The instance comes back on its port and the health check takes it back.
            victim.stop()
            victim.start()
            deadline = time.monotonic() + 4 * HEALTH_INTERVAL_MS / 1000
            while traefik.server_status()["odoo-blue"].get(victim.url) != ServerState.UP:
                assert time.monotonic() < deadline, traefik.server_status()
                time.sleep(0.05)
            assert set(whoami_counts(client, traefik.web_url, 30)) == {"app-1", "app-2"}

            # Backends replaced through the file provider.
            traefik.set_servers("odoo-blue", [apps[0].url])
            assert whoami_counts(client, traefik.web_url, 20) == Counter({"app-1": 20})

            metrics_text = client.get(traefik.metrics_url).text
            assert "traefik_service_requests_total" in metrics_text
            assert 'service="odoo-blue@file"' in metrics_text

            # Traefik itself restarts on the same ports with the last configuration.
            traefik.stop()
            assert not port_is_listening(web)
            traefik.start()
            assert whoami_counts(client, traefik.web_url, 10) == Counter({"app-1": 10})
    finally:
        for component in reversed(components):
            component.stop()


def test_seaweedfs_restarts_on_its_ports_with_its_objects(edge_run: EdgeRun) -> None:
    seaweed = start_seaweedfs(edge_run)
    _: LocalComponent = seaweed
    try:
        with S3Client.from_access(seaweed.access) as s3:
            s3.put_object("attachments", "ir_attachment/ab/abcdef", b"\x00pdf-bytes")
        seaweed.stop()
        assert seaweed.pid() is None
        assert not port_is_listening(seaweed.s3_port)
        seaweed.start()
        with S3Client.from_access(seaweed.access) as s3:
            assert s3.get_object("attachments", "ir_attachment/ab/abcdef") == b"\x00pdf-bytes"
    finally:
        seaweed.stop()
