"""Storage faults: block-I/O throttling of a DB member's disk (cgroup limits through
the platform), and latency/jitter on the app's DB path (a Toxiproxy toxic on ``db``).

The throttle's landed check is what the app feels: commit latency through the
read-write route against a baseline taken just before. Throttling a member that is
not the leader does not slow those commits, and that fault honestly does not land.
"""

from __future__ import annotations

from harness.errors import FaultDidNotLand, FaultError
from harness.faults import measure
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.network import LinkLatency
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.base import IoLimits

#: Throttled commits must be this many times slower than the baseline ...
COMMIT_SLOWDOWN = 3.0
#: ... and at least this much slower in absolute terms (noise on a fast disk).
COMMIT_MIN_ADDED_MS = 10.0
COMMITS = 15


class StorageThrottle(Fault):
    """Throttle block I/O of one DB member (the leader unless ``member`` is given)."""

    family = FaultFamily.STORAGE_LATENCY

    def __init__(
        self,
        runtime: FaultRuntime,
        limits: IoLimits,
        *,
        member: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.limits = limits
        self.member = member
        self._baseline: list[float] = []

    @property
    def name(self) -> str:
        return f"storage-throttle:{self.member or 'leader'}"

    @property
    def hangs(self) -> bool:
        return True

    def prepare(self) -> None:
        if self.member is None:
            self.member = self.platform.leader()
            if self.member is None:
                raise FaultError(
                    "expected a DB leader to throttle, saw none; wait for the cluster to elect "
                    "one (`odoo-resilience status`)"
                )
        self._baseline = measure.commit_seconds(self.platform.endpoints(), COMMITS)

    def undo_steps(self) -> tuple[UndoStep, ...]:
        assert self.member is not None  # set by prepare
        return (UndoStep(UndoOp.UNTHROTTLE_STORAGE, {"target": self.member}),)

    def act(self) -> None:
        assert self.member is not None
        self.platform.throttle_storage(self.member, self.limits)

    def measure(self) -> LandedEvidence:
        during = measure.commit_seconds(self.platform.endpoints(), COMMITS)
        base_ms, during_ms = measure.median_ms(self._baseline), measure.median_ms(during)
        leader = self.platform.leader()
        detail = (
            f"median commit through the read-write route {base_ms:.1f} ms before, "
            f"{during_ms:.1f} ms with {self.member} throttled ({COMMITS} commits; leader "
            f"{leader})"
        )
        if during_ms < COMMIT_SLOWDOWN * base_ms or during_ms - base_ms < COMMIT_MIN_ADDED_MS:
            hint = (
                f"{self.member} is not the leader, so commits do not wait on its disk"
                if leader != self.member
                else "the limits may be above what commits need: lower them"
            )
            raise FaultDidNotLand(
                f"expected commits at least {COMMIT_SLOWDOWN:.0f}x and {COMMIT_MIN_ADDED_MS:.0f} "
                f"ms slower, saw {detail}; {hint}"
            )
        return LandedEvidence(self.name, during_ms - base_ms, "ms added per commit", detail)


class DbPathLatency(LinkLatency):
    """Latency and jitter on the app's path to the database (the ``db`` link)."""

    family = FaultFamily.STORAGE_LATENCY

    def __init__(
        self,
        runtime: FaultRuntime,
        latency_ms: int,
        *,
        jitter_ms: int = 0,
        toxicity: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(
            runtime, "db", latency_ms, jitter_ms=jitter_ms, toxicity=toxicity, lease_s=lease_s
        )

    @property
    def name(self) -> str:
        return f"db-path-latency:{self.latency_ms}ms"
