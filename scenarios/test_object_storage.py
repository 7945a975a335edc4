"""object-storage: the S3 store behind attachments is unreachable. Uploads fail while it
lasts; the warehouse flows carry on; every acknowledged upload is intact afterwards."""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.objectstore import S3Outage, S3OutageMode
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.uploads import AttachmentUploads
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.object_storage]


@pytest.mark.nightly
@pytest.mark.parametrize("mode", list(S3OutageMode), ids=lambda m: m.value)
def test_s3_outage(scenario_runner: ScenarioRunner, mode: S3OutageMode) -> None:
    def outage(runtime: FaultRuntime) -> S3Outage:
        return S3Outage(runtime, mode)

    spec = ScenarioSpec(
        f"object-storage:s3-outage-{mode.value}",
        FaultFamily.OBJECT_STORAGE,
        outage,
        hold_s=15,
        workloads=(AttachmentUploads,),
        witnesses=(AttachmentUploads.name,),
    )
    assert_scenario_passed(scenario_runner.run(spec))
