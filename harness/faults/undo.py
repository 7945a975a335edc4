"""What undoing a fault means, as data: a platform primitive and its arguments.

A fault's undo is a tuple of ``UndoStep``s written to the journal before the fault
acts, so another process (the reaper, ``odoo-resilience recover``) can execute it
against a platform attached to the same run. Every step is idempotent: it looks at
the current state first and only acts when the fault is still there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from harness.errors import FaultError, HarnessError
from harness.faults import links, loadstop
from harness.platform.base import Health, Platform


class UndoOp(StrEnum):
    """The closed set of primitives an undo may ask for."""

    THAW_NODE = "thaw_node"
    START_COMPONENT = "start_component"
    UNTHROTTLE_STORAGE = "unthrottle_storage"
    REMOVE_TOXIC = "remove_toxic"
    ENABLE_LINK = "enable_link"
    SWITCHOVER = "switchover"
    RETIRE_RELEASE = "retire_release"
    ROLLBACK_SCHEMA = "rollback_schema"
    STOP_LOAD = "stop_load"


_ARGS: dict[UndoOp, tuple[str, ...]] = {
    UndoOp.THAW_NODE: ("node",),
    UndoOp.START_COMPONENT: ("component",),
    UndoOp.UNTHROTTLE_STORAGE: ("target",),
    UndoOp.REMOVE_TOXIC: ("link", "toxic"),
    UndoOp.ENABLE_LINK: ("link",),
    UndoOp.SWITCHOVER: ("candidate",),
    UndoOp.RETIRE_RELEASE: (),
    UndoOp.ROLLBACK_SCHEMA: (),
    UndoOp.STOP_LOAD: ("pidfile",),
}


@dataclass(frozen=True)
class UndoStep:
    """One primitive call, e.g. ``thaw_node(node="node-b")``."""

    op: UndoOp
    args: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wanted = set(_ARGS[self.op])
        if set(self.args) != wanted:
            raise ValueError(
                f"undo {self.op.value} takes arguments {sorted(wanted)}, saw {sorted(self.args)}"
            )

    def to_json(self) -> dict[str, object]:
        return {"op": self.op.value, "args": dict(self.args)}

    @staticmethod
    def from_json(data: object) -> UndoStep:
        """Parse one step from the journal; ValueError names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an undo step object, saw {data!r}")
        op, args = data.get("op"), data.get("args")
        if op not in {o.value for o in UndoOp}:
            known = ", ".join(o.value for o in UndoOp)
            raise ValueError(f"expected an undo op ({known}), saw {op!r}")
        if not isinstance(args, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in args.items()
        ):
            raise ValueError(f"expected undo args as a string mapping, saw {args!r}")
        return UndoStep(UndoOp(op), dict(args))

    def describe(self) -> str:
        inside = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.op.value}({inside})"


def execute(step: UndoStep, platform: Platform) -> None:
    """Run ``step`` against ``platform``; a step whose fault is already gone does nothing."""
    args = step.args
    try:
        match step.op:
            case UndoOp.THAW_NODE:
                platform.thaw_node(args["node"])
            case UndoOp.START_COMPONENT:
                _start_if_stopped(platform, args["component"])
            case UndoOp.UNTHROTTLE_STORAGE:
                platform.unthrottle_storage(args["target"])
            case UndoOp.REMOVE_TOXIC:
                links.remove_toxic(platform.endpoints().toxiproxy_api, args["link"], args["toxic"])
            case UndoOp.ENABLE_LINK:
                links.set_enabled(platform.endpoints().toxiproxy_api, args["link"], True)
            case UndoOp.SWITCHOVER:
                if platform.leader() != args["candidate"]:
                    platform.switchover(args["candidate"])
            case UndoOp.RETIRE_RELEASE:
                platform.retire_release()
            case UndoOp.ROLLBACK_SCHEMA:
                platform.rollback_schema()
            case UndoOp.STOP_LOAD:
                # The load runs on the harness's host whatever the platform.
                loadstop.stop_load(Path(args["pidfile"]))
    except FaultError:
        raise
    except (HarnessError, OSError) as exc:
        raise FaultError(
            f"expected the undo {step.describe()} to succeed, it failed: {exc}. The fault may "
            "still be applied: fix the cause and run `odoo-resilience recover`."
        ) from exc


def _start_if_stopped(platform: Platform, component: str) -> None:
    # Starting a component that still has a process would start a second copy of it
    # (an attached platform owns no Process objects): only a stopped one is started.
    status = next((c for c in platform.status().components if c.name == component), None)
    if status is None:
        raise FaultError(
            f"expected component {component!r} in the platform's status, saw none; "
            "the run directory may belong to another topology"
        )
    if status.health is Health.STOPPED:
        platform.start_component(component)
