"""The upload and session workloads' verdicts (``harness/scenario/uploads.py`` and
``sessions.py``), each run for real against a fake Odoo on 127.0.0.1 (``fake_odoo``):
what they judge is what they sent and read back over HTTP, so that is what is faked.
The live scenarios (object-storage, cache-loss) stay the proof against the stack."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.core import VerdictKind
from harness.scenario.sessions import SessionReauth
from harness.scenario.uploads import AttachmentUploads, Upload
from harness.scenario.workload import FaultWindow, witness_verdicts
from tests.scenario.fake_odoo import FakeOdoo, serve
from tests.support.fake_platform import FakePlatform

WAIT_S = 10.0


@pytest.fixture
def odoo() -> Iterator[FakeOdoo]:
    with serve() as fake:
        yield fake


def _window(scenario: str, family: str, injected: int | None, reverted: int | None) -> FaultWindow:
    return FaultWindow(scenario, family, injected, reverted, (1, time.monotonic_ns()))


def _uploads(odoo: FakeOdoo, count: int) -> tuple[AttachmentUploads, tuple[Upload, ...]]:
    """Run the workload until it made ``count`` uploads; stopped, with what it made."""
    workload = AttachmentUploads(FakePlatform(ingress_url=odoo.url).endpoints(), interval_s=0.01)
    workload.start()
    deadline = time.monotonic() + WAIT_S
    while len(workload.uploads()) < count:
        assert time.monotonic() < deadline, f"expected {count} uploads within {WAIT_S} s"
        time.sleep(0.01)
    workload.stop()
    return workload, workload.uploads()


def test_uploads_failed_only_while_the_store_was_out_and_every_ack_reads_back(
    odoo: FakeOdoo,
) -> None:
    odoo.refused_serials = {4, 5, 6}
    workload, uploads = _uploads(odoo, 9)
    assert [u.acked for u in uploads[:7]] == [True, True, True, False, False, False, True]
    assert {u.error for u in uploads[3:6]} == {"OdooRPCError"}
    # The fault went in just before upload 3 (which still got through) and out before 7.
    window = _window("s3-down", "object-storage", uploads[2].t_sent_ns, uploads[6].t_sent_ns)
    intact, again = workload.verdicts(window)
    total = len(uploads)
    assert (intact.kind, intact.passed, intact.measured, intact.unit) == (
        VerdictKind.INVARIANT,
        True,
        0.0,
        "uploads lost",
    )
    assert intact.sentence == (
        f"s3-down attachment uploads: {total - 3} of {total} acknowledged, every one reads "
        "back with the bytes sent; 3 of 4 failed while the fault stood"
    )
    assert workload.effect(window) == "3 of 4 uploads failed while the fault stood (OdooRPCError)"
    (seen,) = witness_verdicts([workload.name], [workload], window)
    assert (seen.kind, seen.passed) == (VerdictKind.LANDED, True)
    assert seen.sentence == (
        "s3-down users saw the fault: attachment uploads: 3 of 4 uploads failed while the "
        "fault stood (OdooRPCError)"
    )
    assert (intact.window, intact.family) == (window.run, "object-storage")
    assert again.passed
    assert again.sentence == "s3-down attachment uploads work again after the revert"


def test_an_acknowledged_upload_lost_or_altered_fails_the_run(odoo: FakeOdoo) -> None:
    workload, uploads = _uploads(odoo, 4)
    lost, altered = uploads[1].key, uploads[2].key
    with odoo.lock:
        del odoo.attachments[lost]
        odoo.attachments[altered] = b"other bytes"
    intact, again = workload.verdicts(_window("s3-down", "object-storage", None, None))
    assert not intact.passed
    assert intact.measured == 2.0
    assert f"2 lost or altered ({lost}, {altered})" in intact.sentence
    assert intact.sentence.endswith("; 0 of 0 failed while the fault stood"), (
        "with no inject, no upload counts as made during the fault"
    )
    assert again.passed


def test_uploads_still_failing_at_the_end_fail_the_run(odoo: FakeOdoo) -> None:
    odoo.refused_serials = set(range(3, 10_000))
    workload, uploads = _uploads(odoo, 5)
    window = _window("s3-down", "object-storage", uploads[2].t_sent_ns, None)
    intact, again = workload.verdicts(window)
    assert intact.passed, "what was acknowledged before the fault is intact"
    failed = len(uploads) - 2
    assert intact.sentence.endswith(f"; {failed} of {failed} failed while the fault stood"), (
        "never reverted: everything from the inject on is during the fault"
    )
    assert not again.passed
    assert again.sentence == (
        "s3-down attachment uploads still fail at the end of the run (last: OdooRPCError); "
        "the object store did not come back for the app"
    )


def test_no_upload_made_is_no_proof_that_uploads_work(odoo: FakeOdoo) -> None:
    workload = AttachmentUploads(FakePlatform(ingress_url=odoo.url).endpoints(), interval_s=60)
    workload.start()
    workload.stop()
    intact, again = workload.verdicts(_window("s3-down", "object-storage", None, None))
    assert intact.passed
    assert "0 of 0 acknowledged" in intact.sentence
    assert not again.passed
    assert "(last: none made)" in again.sentence
    assert odoo.attachments == {}


def _session(odoo: FakeOdoo) -> SessionReauth:
    workload = SessionReauth(FakePlatform(ingress_url=odoo.url).endpoints())
    workload.start()
    workload.stop()
    return workload


def test_a_session_that_survived_the_fault_and_a_new_login_pass(odoo: FakeOdoo) -> None:
    workload = _session(odoo)
    assert len(odoo.sessions) == 1
    (verdict,) = workload.verdicts(_window("redis-restart", "cache-loss", 1, 2))
    assert (verdict.kind, verdict.passed) == (VerdictKind.INVARIANT, True)
    assert verdict.sentence == (
        "redis-restart web sessions: users log in again; "
        "the session made before the fault is still valid"
    )
    assert len(odoo.sessions) == 2, "the verdict made a fresh web login"


def test_a_lost_session_is_reported_and_passes_when_users_log_in_again(odoo: FakeOdoo) -> None:
    workload = _session(odoo)
    odoo.flush_sessions()
    (verdict,) = workload.verdicts(_window("redis-restart", "cache-loss", 1, 2))
    assert verdict.passed
    assert verdict.sentence == (
        "redis-restart web sessions: users log in again; "
        "the session made before the fault was lost: users re-authenticate"
    )


def test_web_logins_that_fail_after_the_fault_fail_the_run(odoo: FakeOdoo) -> None:
    workload = _session(odoo)
    odoo.flush_sessions()
    odoo.web_login_down = True
    (verdict,) = workload.verdicts(_window("redis-restart", "cache-loss", 1, 2))
    assert not verdict.passed
    assert verdict.sentence.startswith(
        "redis-restart web sessions: a new web login and a call through it fail; "
        "the session made before the fault was lost: users re-authenticate (OdooHTTPError: "
    )
    assert "HTTP 502" in verdict.sentence


def test_no_session_before_the_fault_fails_the_run_with_its_sentence(odoo: FakeOdoo) -> None:
    odoo.web_login_down = True
    workload = _session(odoo)
    odoo.web_login_down = False
    (verdict,) = workload.verdicts(_window("redis-restart", "cache-loss", 1, 2))
    assert not verdict.passed
    assert "no web session could be made before the fault" in verdict.sentence


def test_a_fault_no_witness_saw_fails_as_having_no_visible_effect(odoo: FakeOdoo) -> None:
    workload, uploads = _uploads(odoo, 4)
    window = _window("redis-partition", "network", uploads[1].t_sent_ns, uploads[3].t_sent_ns)
    assert workload.effect(window) is None
    (unseen,) = witness_verdicts([workload.name], [workload], window)
    assert (unseen.kind, unseen.passed) == (VerdictKind.LANDED, False)
    assert unseen.sentence == (
        "redis-partition: the fault had no effect the users could see (attachment uploads "
        "saw nothing go wrong while it stood); the scenario proves nothing about the app's "
        "use of what it broke"
    )
    assert witness_verdicts([], [workload], window) == ()
    intact, again = workload.verdicts(window)  # reads back, then closes its client
    assert intact.passed
    assert again.passed


def test_session_calls_that_fail_while_the_fault_stands_are_its_effect(odoo: FakeOdoo) -> None:
    workload = SessionReauth(FakePlatform(ingress_url=odoo.url).endpoints(), interval_s=0.02)
    workload.start()
    time.sleep(0.2)
    t_fault = time.monotonic_ns()
    odoo.flush_sessions()
    odoo.web_login_down = True
    time.sleep(0.2)
    odoo.web_login_down = False
    t_revert = time.monotonic_ns()
    time.sleep(0.3)
    workload.stop()
    calls = workload.calls()
    before = [c for c in calls if c.t_done_ns < t_fault]
    assert before
    assert not any(c.error for c in before), before
    window = _window("redis-down", "cache-loss", t_fault, t_revert)
    effect = workload.effect(window)
    assert effect is not None
    # The session is gone (SessionExpired), then logging in again fails (HTTP 502). The
    # call that met the expired session may have been sent a moment before the fault (a
    # call every 20 ms), so it is looked for among the calls that ended after it.
    assert "web-session calls failed while the fault stood (" in effect
    assert "OdooHTTPError" in effect
    after = [c for c in calls if c.t_done_ns >= t_fault]
    assert any("SessionExpired" in c.error for c in after), after
    assert not calls[-1].error, "the workload logged in again by itself"
    (verdict,) = workload.verdicts(window)
    assert verdict.passed
