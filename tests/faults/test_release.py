"""The bad-release fault (``harness/faults/release.py``) on the fake platform: it lands
when the rollout gates caught and rolled back the release, not when the release passed
them, and its journalled undo takes a release off the ingress whatever happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import FaultDidNotLand, PlatformError
from harness.faults import journal
from harness.faults.base import FaultRuntime
from harness.faults.journal import EntryState
from harness.faults.release import BadRelease
from harness.faults.undo import UndoOp, UndoStep
from harness.scenario.rollout import GateResult
from tests.support.fake_platform import BLUE, GREEN, FakePlatform, FakeRelease

BROKEN_FLOW = "sale-order success 40 % < 99.5 % over the last window"


def _unhealthy(t_from_ns: int, t_to_ns: int) -> GateResult:
    return GateResult(False, BROKEN_FLOW)


def _healthy(t_from_ns: int, t_to_ns: int) -> GateResult:
    return GateResult(True, "every critical flow kept its SLOs")


def _fault(fake: FakePlatform, run_dir: Path, release: str, healthy: bool) -> BadRelease:
    fault = BadRelease(
        FaultRuntime(fake, run_dir, start_reaper=False),
        release,
        _healthy if healthy else _unhealthy,
        step_s=0.02,
    )
    # BadRelease keeps the controller's 0.5 s tick; the fake needs no such patience.
    fault.controller.tick_s = 0.01
    return fault


def test_a_release_the_gates_roll_back_landed_with_its_time_to_rollback(tmp_path: Path) -> None:
    fake = FakePlatform(releases={"migrate-breaking": FakeRelease(migrates=True)})
    fault = _fault(fake, tmp_path, "migrate-breaking", healthy=False)
    with fault:
        evidence = fault.landed()
        outcome = fault.outcome
        assert outcome is not None
        assert not outcome.promoted
        assert evidence.fault == "bad-release:migrate-breaking"
        assert evidence.measured == outcome.time_to_rollback_s
        assert evidence.unit == "s to rollback"
        assert evidence.sentence == outcome.sentence
        assert BROKEN_FLOW in evidence.sentence
        assert "schema migrated back" in evidence.sentence
        assert fake.weights == {BLUE: 100}
    (entry,) = journal.entries(tmp_path)
    assert entry.undo == (UndoStep(UndoOp.RETIRE_RELEASE), UndoStep(UndoOp.ROLLBACK_SCHEMA))
    assert entry.states == (EntryState.INTENT, EntryState.APPLIED, EntryState.REVERTED)
    # The undo ran once more on revert and found nothing left to undo.
    assert fake.calls[-2:] == ["retire_release()", "rollback_schema()"]
    assert not fake.migrated


def test_a_release_that_passed_every_gate_did_not_land_and_is_retired_on_revert(
    tmp_path: Path,
) -> None:
    fake = FakePlatform()
    fault = _fault(fake, tmp_path, "v2", healthy=True)
    with fault:
        assert fault.outcome is not None
        assert fault.outcome.promoted
        assert fake.weights == {BLUE: 0, GREEN: 100}
        with pytest.raises(FaultDidNotLand, match="saw it pass every gate"):
            fault.landed()
    assert fake.weights == {BLUE: 100}
    assert fake.green == ()
    assert journal.pending(tmp_path) == []


def test_a_deploy_the_platform_refuses_reverts_and_re_raises(tmp_path: Path) -> None:
    fake = FakePlatform()
    fake.deploy_release("left-over")
    fault = _fault(fake, tmp_path, "v2", healthy=False)
    with pytest.raises(PlatformError, match="a release is already deployed"):
        fault.inject()
    assert fake.calls[-3:] == ["deploy_release(v2, 1)", "retire_release()", "rollback_schema()"]
    assert fake.weights == {BLUE: 100}
    assert fake.green == ()
    assert journal.pending(tmp_path) == []
