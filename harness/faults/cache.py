"""Cache faults: Redis down (stopped until reverted) and a Redis restart (a blip
that loses what Redis kept only in memory).

Landed checks: a PING through the app's Redis route gets no answer and Redis's
own port refuses; after a restart Redis reports a new ``run_id``.
"""

from __future__ import annotations

import time

from harness.errors import FaultDidNotLand, FaultError
from harness.faults import measure
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.base import ComponentStatus, Platform
from harness.platform.endpoints import HostPort

REDIS = "redis"


def _component(platform: Platform, name: str) -> ComponentStatus:
    for component in platform.status().components:
        if component.name == name:
            return component
    raise FaultError(f"expected a {name!r} component in the stack, saw none")


def own_ports(component: ComponentStatus) -> list[HostPort]:
    """The component's own listening ports from its status (``role=port, ...``)."""
    ports = []
    for part in component.address.split(","):
        _, _, port = part.strip().partition("=")
        if port.isdigit():
            ports.append(HostPort("127.0.0.1", int(port)))
    return ports


def redis_run_id(address: HostPort) -> str | None:
    reply = measure.redis_reply(address, "INFO", "server")
    if reply is None:
        return None
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    return None


class RedisDown(Fault):
    """Stop Redis; the undo starts it again."""

    family = FaultFamily.CACHE_LOSS

    @property
    def name(self) -> str:
        return "redis-down"

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.START_COMPONENT, {"component": REDIS}),)

    def act(self) -> None:
        self.platform.stop_component(REDIS)

    def measure(self) -> LandedEvidence:
        route = self.platform.endpoints().redis
        component = _component(self.platform, REDIS)
        answered = [measure.redis_reply(route, "PING") for _ in range(3)]
        refusing = [p for p in own_ports(component) if measure.tcp_refuses(p)]
        detail = (
            f"{sum(a is None for a in answered)} of 3 PINGs through {route} unanswered; "
            f"Redis's own port {'refuses' if refusing else 'accepts'}; status "
            f"{component.health.value}"
        )
        if any(a is not None for a in answered) or not refusing:
            raise FaultDidNotLand(
                f"expected Redis unreachable, saw {detail}; the stop did not take"
            )
        return LandedEvidence(self.name, 3.0, "PINGs unanswered", detail)


class RedisRestart(Fault):
    """Stop and start Redis; the undo starts it should the restart stop half way."""

    family = FaultFamily.CACHE_LOSS

    def __init__(self, runtime: FaultRuntime, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self._run_id_before: str | None = None
        self._down_s = 0.0

    @property
    def name(self) -> str:
        return "redis-restart"

    def prepare(self) -> None:
        self._run_id_before = redis_run_id(self.platform.endpoints().redis)
        if self._run_id_before is None:
            raise FaultError(
                "expected Redis to answer INFO server before the restart, it did not; "
                "check the redis component (`odoo-resilience status`)"
            )

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.START_COMPONENT, {"component": REDIS}),)

    def act(self) -> None:
        t0 = time.monotonic()
        self.platform.stop_component(REDIS)
        self.platform.start_component(REDIS)
        self._down_s = time.monotonic() - t0

    def measure(self) -> LandedEvidence:
        after = redis_run_id(self.platform.endpoints().redis)
        if after is None or after == self._run_id_before:
            raise FaultDidNotLand(
                f"expected a new Redis run_id after the restart, saw {after} (before "
                f"{self._run_id_before}); Redis was not restarted"
            )
        return LandedEvidence(
            self.name,
            self._down_s,
            "s restarting",
            f"Redis restarted in {self._down_s:.2f} s: run_id {str(self._run_id_before)[:8]} -> "
            f"{after[:8]}",
        )
