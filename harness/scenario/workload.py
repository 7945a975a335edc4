"""Workloads: traffic a scenario drives next to its probes, and what must hold for it.

The probes measure the business flows of the service levels. Some families also need
traffic no probe makes: attachment uploads while object storage is out, a web session
that must re-authenticate after the cache is lost. A ``Workload`` runs for the whole
scenario (started with the probes, stopped with them, never raising from its thread)
and, once the scenario is over, gives its own verdicts over the fault's window. They
join the scenario's verdicts (kind ``INVARIANT``: what must hold after the run), so a
workload failure fails the scenario with its sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.core import Verdict
from harness.platform.endpoints import StackEndpoints


@dataclass(frozen=True)
class FaultWindow:
    """When the scenario's fault stood, on ``time.monotonic_ns()``; None: never injected."""

    scenario: str
    family: str
    injected_ns: int | None
    reverted_ns: int | None
    run: tuple[int, int]
    """The whole observation, start to end."""


class Workload(Protocol):
    name: str

    def start(self) -> None:
        """Begin; returns at once (the work runs on the workload's own thread)."""

    def stop(self) -> None:
        """End within a bounded time; idempotent."""

    def verdicts(self, window: FaultWindow) -> tuple[Verdict, ...]:
        """Judge what the workload saw; may read the stack back (it is up again)."""
        ...


WorkloadFactory = Callable[[StackEndpoints], Workload]
