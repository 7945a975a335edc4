"""The DB tier's distributed configuration store: one single-member etcd 3.4.

Patroni keeps its leader lock and member records here. Patroni 3.0.2 talks to it
through its ``etcd3`` section (the v3 JSON gateway that etcd 3.4 serves by default),
so the v2 API stays off: Debian's ``python3-etcd`` (the v2 client) is only the
transport Patroni's ``etcd3`` module builds on, and with v3 there is no second
keyspace to keep in step with what etcdctl shows.

The member runs as root (etcd does not care, and it keeps its data out of the DB
user's reach), on 127.0.0.1 only, in its node's cgroup, so a node fault on the
etcd node takes the DCS away as a real outage would.
"""

from __future__ import annotations

import httpx

from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK

ETCD_BINARY = "/usr/bin/etcd"
START_TIMEOUT_S = 30.0


class Etcd(Daemon):
    """A single-member etcd cluster; satisfies ``LocalComponent``."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        client_port: int,
        peer_port: int,
        name: str = "etcd",
    ) -> None:
        super().__init__(ctx, node, name)
        self.client_port = client_port
        self.peer_port = peer_port

    @property
    def url(self) -> str:
        """The client URL Patroni and etcdctl use."""
        return f"http://{LOOPBACK}:{self.client_port}"

    def argv(self) -> list[str]:
        peer_url = f"http://{LOOPBACK}:{self.peer_port}"
        return [
            ETCD_BINARY,
            "--name",
            self._name,
            "--data-dir",
            str(self._ctx.data_dir(self._name)),
            "--listen-client-urls",
            self.url,
            "--advertise-client-urls",
            self.url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            f"{self._name}={peer_url}",
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            f"odoo-resilience-{self._ctx.run_id}",
        ]

    def start(self) -> None:
        self._launch(
            self.argv(),
            ready=self.healthy,
            what=f"GET {self.url}/health",
            timeout_s=START_TIMEOUT_S,
        )

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/health", timeout=1.0)
            return response.status_code == 200 and response.json().get("health") == "true"
        except (httpx.HTTPError, ValueError):
            return False
