"""Workloads: traffic a scenario drives next to its probes, and what must hold for it.

The probes measure the business flows of the service levels. Some families also need
traffic no probe makes: attachment uploads while object storage is out, a web session
that must re-authenticate after the cache is lost. A ``Workload`` runs for the whole
scenario (started with the probes, stopped with them, never raising from its thread)
and, once the scenario is over, gives its own verdicts over the fault's window. They
join the scenario's verdicts (kind ``INVARIANT``: what must hold after the run), so a
workload failure fails the scenario with its sentence.

A workload also says what its users saw while the fault stood (``effect``). A fault on
something only a workload exercises (Redis for web sessions, S3 for attachments) has
landed for the users only when that workload saw it: a scenario names such workloads
as its witnesses (``ScenarioSpec.witnesses``), and when none of them saw anything it
fails with "the fault had no effect the users could see", whatever the fault's own
landed check measured on the link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.core import Verdict, VerdictKind
from harness.errors import ConfigError
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


def during(window: FaultWindow, t_ns: int) -> bool:
    """Whether ``t_ns`` falls while the fault stood (from injection to revert, or the end)."""
    if window.injected_ns is None:
        return False
    until = window.run[1] if window.reverted_ns is None else window.reverted_ns
    return window.injected_ns <= t_ns < until


class Workload(Protocol):
    name: str

    def start(self) -> None:
        """Begin; returns at once (the work runs on the workload's own thread)."""

    def stop(self) -> None:
        """End within a bounded time; idempotent."""

    def effect(self, window: FaultWindow) -> str | None:
        """What its users saw go wrong while the fault stood, in words; None: nothing."""
        ...

    def verdicts(self, window: FaultWindow) -> tuple[Verdict, ...]:
        """Judge what the workload saw; may read the stack back (it is up again)."""
        ...


WorkloadFactory = Callable[[StackEndpoints], Workload]


def witness_verdicts(
    witnesses: Sequence[str], workloads: Sequence[Workload], window: FaultWindow
) -> tuple[Verdict, ...]:
    """Whether the users of the named workloads saw the fault (none named: no verdict).

    Kind ``LANDED``: a fault whose only measurable effect is on a link no user crossed
    did not land for the users, and the scenario proves nothing about the app.
    """
    if not witnesses or window.injected_ns is None:
        return ()
    by_name = {w.name: w for w in workloads}
    missing = [name for name in witnesses if name not in by_name]
    if missing:
        raise ConfigError(
            f"scenario {window.scenario}: expected its witnesses {list(witnesses)} among its "
            f"workloads {sorted(by_name)}, saw no {missing}; add them to ScenarioSpec.workloads"
        )
    seen = [(name, by_name[name].effect(window)) for name in witnesses]
    effects = [f"{name}: {effect}" for name, effect in seen if effect is not None]
    if effects:
        passed, sentence = True, f"{window.scenario} users saw the fault: " + "; ".join(effects)
    else:
        passed = False
        sentence = (
            f"{window.scenario}: the fault had no effect the users could see ("
            + ", ".join(witnesses)
            + " saw nothing go wrong while it stood); the scenario proves nothing about the "
            "app's use of what it broke"
        )
    end = window.run[1] if window.reverted_ns is None else window.reverted_ns
    return (
        Verdict(
            VerdictKind.LANDED,
            window.scenario,
            window.family,
            passed,
            None,
            None,
            "",
            (window.injected_ns, end),
            (),
            sentence,
        ),
    )
