"""Object-storage faults: the S3 gateway unreachable, either by cutting the app's
``s3`` link (proxy disabled) or by stopping the gateway itself.

Landed check: an HTTPS request to the app's S3 endpoint fails (refused, reset or
closed), every time.
"""

from __future__ import annotations

from enum import StrEnum

from harness.errors import FaultDidNotLand
from harness.faults import links, measure
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily

S3_LINK = "s3"
S3_COMPONENT = "s3"


class S3OutageMode(StrEnum):
    LINK = "link"
    """The app's link to S3 is cut; the gateway keeps running (backups still reach it)."""
    GATEWAY = "gateway"
    """The gateway is stopped: nobody reaches it."""


class S3Outage(Fault):
    family = FaultFamily.OBJECT_STORAGE

    def __init__(
        self,
        runtime: FaultRuntime,
        mode: S3OutageMode = S3OutageMode.LINK,
        *,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.mode = mode

    @property
    def name(self) -> str:
        return f"s3-outage:{self.mode.value}"

    def undo_steps(self) -> tuple[UndoStep, ...]:
        if self.mode is S3OutageMode.LINK:
            return (UndoStep(UndoOp.ENABLE_LINK, {"link": S3_LINK}),)
        return (UndoStep(UndoOp.START_COMPONENT, {"component": S3_COMPONENT}),)

    def act(self) -> None:
        if self.mode is S3OutageMode.LINK:
            links.set_enabled(self.platform.endpoints().toxiproxy_api, S3_LINK, False)
        else:
            self.platform.stop_component(S3_COMPONENT)

    def measure(self) -> LandedEvidence:
        s3 = self.platform.endpoints().s3
        errors = [measure.https_fails(s3.url, s3.ca_file) for _ in range(3)]
        failed = [e for e in errors if e is not None]
        if len(failed) < 3:
            raise FaultDidNotLand(
                f"expected every HTTPS request to {s3.url} to fail, saw {3 - len(failed)} of 3 "
                "answered; the S3 route is still up"
            )
        return LandedEvidence(
            self.name,
            3.0,
            "requests failed",
            f"S3 at {s3.url} unreachable ({self.mode.value}): 3 of 3 requests failed, "
            f"first with {failed[0]}",
        )
