"""The targets the core measures against, as the core needs them.

These are deliberately small: the service-levels loader owns the file format and
its validation, and whoever wires a run maps the loader's objects onto these.
Each checks only what would make the arithmetic meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from harness.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FlowTarget:
    """Service levels of one probed business flow."""

    name: str
    critical: bool
    availability_pct: float
    p95_ms: float
    p99_ms: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.availability_pct <= 100.0:
            raise ConfigError(
                f"flow {self.name!r}: expected availability_pct between 0 and 100, saw "
                f"{self.availability_pct}; fix the flow's availability in service levels"
            )
        for key, value in (("p95_ms", self.p95_ms), ("p99_ms", self.p99_ms)):
            if value is not None and value <= 0:
                raise ConfigError(
                    f"flow {self.name!r}: expected {key} > 0, saw {value}; fix the flow's "
                    "latency target in service levels"
                )

    @property
    def availability(self) -> Fraction:
        """The target as an exact fraction of 1 (99.9 -> 999/1000), for exact comparisons."""
        return Fraction(repr(self.availability_pct)) / 100

    @property
    def p95_ns(self) -> int:
        return round(self.p95_ms * 1_000_000)

    @property
    def p99_ns(self) -> int | None:
        return None if self.p99_ms is None else round(self.p99_ms * 1_000_000)


@dataclass(frozen=True, slots=True)
class SteadyStateSpec:
    """Sliding window W for the steady state and the stability period S for recovery."""

    window_s: float = 10.0
    stability_s: float = 30.0

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.stability_s < 0:
            raise ConfigError(
                f"steady state: expected window_s > 0 and stability_s >= 0, saw window_s="
                f"{self.window_s}, stability_s={self.stability_s}; fix the steady-state "
                "section of service levels"
            )

    @property
    def window_ns(self) -> int:
        return round(self.window_s * 1_000_000_000)

    @property
    def stability_ns(self) -> int:
        return round(self.stability_s * 1_000_000_000)


@dataclass(frozen=True, slots=True)
class RecoveryTarget:
    """What a fault family promises: recovery time, data-loss window, lost writes allowed."""

    family: str
    rto_s: float
    rpo_s: float
    rpo_writes: int = 0
    degraded_p95_ms: float | None = None
    """p95 latency the critical flows may reach while the fault stands (None: unjudged)."""

    def __post_init__(self) -> None:
        if self.degraded_p95_ms is not None and self.degraded_p95_ms <= 0:
            raise ConfigError(
                f"fault family {self.family!r}: expected degraded_p95_ms > 0, saw "
                f"{self.degraded_p95_ms}; fix the family's targets in service levels"
            )
        if self.rto_s < 0 or self.rpo_s < 0 or self.rpo_writes < 0:
            raise ConfigError(
                f"fault family {self.family!r}: expected rto_s, rpo_s and rpo_writes >= 0, "
                f"saw {self.rto_s}, {self.rpo_s}, {self.rpo_writes}; fix the family's "
                "targets in service levels"
            )
