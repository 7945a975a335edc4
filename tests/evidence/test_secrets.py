"""No secret reaches the evidence: scrubbing on write, scanning every file after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evidence.model import EvidenceError
from harness.evidence.secrets import REDACTED, Scrubber, scan, scrub
from tests.evidence.synthetic import DB_PASSWORD, SECRETS, SESSION_ID, finished_bundle, scenario


def test_scrub_replaces_known_secrets_in_every_encoding_and_secret_patterns() -> None:
    secret = 'p"a<s>s w/o&rd'
    text = (
        f"raw {secret} json {json.dumps(secret)} html p&quot;a&lt;s&gt;s w/o&amp;rd "
        f"url p%22a%3Cs%3Es%20w%2Fo%26rd; Cookie: session_id=abcdef0123; "
        "PGPASSWORD=hunter22 Authorization: Bearer eyJhbGciOi key AKIAABCDEFGHIJKLMNOP ok"
    )
    cleaned = scrub(text, [secret])
    for leaked in (
        secret,
        "p&quot;a",
        "p%22a",
        "abcdef0123",
        "hunter22",
        "eyJhbGciOi",
        "AKIAABCDEFGHIJKLMNOP",
        'p\\"a',
    ):
        assert leaked not in cleaned, leaked
    assert cleaned.endswith(" ok")
    assert f"session_id={REDACTED}" in cleaned


def test_scrubbing_is_stable_and_refuses_secrets_too_short_to_scrub() -> None:
    once = scrub("password=abc123 session_id=xyz", [])
    assert scrub(once, []) == once
    with pytest.raises(EvidenceError, match="at least 4 characters"):
        Scrubber(("ab",))


def test_a_bundle_fed_secrets_holds_none_of_them(tmp_path: Path) -> None:
    leaky = scenario(abort=f"odoo-1 refused session_id={SESSION_ID} with password {DB_PASSWORD}")
    bundle = finished_bundle(tmp_path, scenarios=(leaky,))
    assert scan(bundle, SECRETS) == ()
    log = (bundle / "scenarios/db-failover-primary-crash/logs/odoo-1.log").read_text()
    assert f"session_id={REDACTED}" in log
    assert f"postgresql://odoo:{REDACTED}@db" in (bundle / "files/locust/stats.csv").read_text()


def test_scan_finds_a_secret_that_got_in(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(f"user odoo password {DB_PASSWORD}\nsession_id=zz9\n")
    found = scan(tmp_path, [DB_PASSWORD])
    assert [f.path for f in found] == ["a.log", "a.log"]
    assert found[0].what == "known secret #1"
