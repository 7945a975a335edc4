"""The database faults' landed checks on the fake platform: a leader crash lands when the
old primary is gone, whether or not a new leader follows (that is recovery, judged by
RTO); a switchover lands when the old leader no longer leads, and did not land when the
cluster refused it. The live versions are in ``test_faults_live.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import ComponentFailed, FaultDidNotLand, PlatformError
from harness.faults import database
from harness.faults.base import FaultRuntime
from harness.faults.database import LeaderCrash, Switchover
from harness.platform.base import Health
from tests.support.fake_platform import FakePlatform


class FakeSteppedDownPlatform(FakePlatform):
    """A fake whose switchover is accepted: the leader steps down, none follows, and the
    platform gives up waiting for one, as ``PatroniCluster.switchover`` does."""

    def switchover(self, candidate: str | None = None) -> str:
        self.calls.append(f"switchover({candidate or ''})")
        self._leader = None
        raise ComponentFailed(
            "expected a running Patroni leader other than pg-1 within 60 s, saw: pg-2 replica "
            "running, pg-3 replica running"
        )


def _runtime(fake: FakePlatform, run_dir: Path) -> FaultRuntime:
    return FaultRuntime(fake, run_dir, start_reaper=False)


def test_a_leader_crash_lands_at_once_when_no_new_leader_comes(tmp_path: Path) -> None:
    fake = FakePlatform()  # elects nobody: a failover that is blocked
    fault = LeaderCrash(_runtime(fake, tmp_path))
    with fault:
        evidence = fault.landed()
        assert fake.health["pg-1"] is Health.STOPPED
    assert fault.old_leader == "pg-1"
    assert evidence.measured < 1.0
    assert evidence.unit == "s to the old primary gone"
    assert evidence.sentence.startswith("pg-1, the DB leader, is gone ")
    assert "(stopped in the platform's status)" in evidence.sentence
    assert "judged by RTO" in evidence.sentence
    assert fake.calls == ["kill_component(pg-1)", "start_component(pg-1)"]


def test_a_kill_that_leaves_the_leader_running_did_not_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "GONE_WAIT_S", 0.3)
    fake = FakePlatform()
    fake.inert("kill_component(pg-1)")
    fault = LeaderCrash(_runtime(fake, tmp_path))
    with pytest.raises(FaultDidNotLand, match="saw up in the platform's status") as caught, fault:
        fault.landed()
    assert "expected pg-1, the DB leader, gone within" in str(caught.value)
    assert fault.t_revert_ns is not None
    assert fake.calls == ["kill_component(pg-1)"], "the revert starts only what is stopped"


def test_a_switchover_lands_on_the_new_leader(tmp_path: Path) -> None:
    fake = FakePlatform()
    fault = Switchover(_runtime(fake, tmp_path))
    fault.inject()
    evidence = fault.landed()
    assert fault.new_leader == "pg-2"
    assert re.match(r"leader pg-1 \(timeline 1\) -> pg-2 \(timeline \d+\) ", evidence.sentence)
    fault.revert()
    assert fake.leader() == "pg-1"
    assert fake.calls == ["switchover()", "switchover(pg-1)"]


def test_a_switchover_the_cluster_refuses_did_not_land(tmp_path: Path) -> None:
    fake = FakePlatform()
    refusal = "saw 412: candidate does not exists"
    fake.fail_on("switchover(pg-9)", PlatformError(f"expected 200 from POST, {refusal}"))
    fault = Switchover(_runtime(fake, tmp_path), "pg-9")
    with pytest.raises(FaultDidNotLand, match="saw it still leading") as caught, fault:
        fault.landed()
    assert refusal in str(caught.value)
    assert fake.leader() == "pg-1"
    assert fake.calls == ["switchover(pg-9)"], "nothing to switch back: pg-1 still leads"


def test_an_accepted_switchover_that_leaves_no_leader_landed_for_rto_to_judge(
    tmp_path: Path,
) -> None:
    fake = FakeSteppedDownPlatform()
    fault = Switchover(_runtime(fake, tmp_path))
    fault.inject()
    evidence = fault.landed()
    assert fault.new_leader is None
    assert evidence.sentence.startswith("pg-1 (timeline 1) stepped down; no leader ")
    assert "within 60 s" in evidence.sentence
    assert "judged by RTO" in evidence.sentence
