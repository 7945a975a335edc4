"""verify: every hash, the chain to the previous bundle, the signature; what changed is named."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.evidence.chain import ChainStatus, SignatureStatus, verify
from harness.evidence.commands import verify_command
from harness.evidence.model import EvidenceError
from tests.evidence.synthetic import START, finished_bundle


def _key(path: Path) -> Path:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return path


def _flip(path: Path, offset: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    return finished_bundle(tmp_path / "reports", signing_key=_key(tmp_path / "key.pem"))


def test_a_fresh_bundle_verifies_and_sha256sum_agrees(signed: Path) -> None:
    result = verify(signed)
    assert result.ok, result.report()
    assert result.signature is SignatureStatus.VALID_EMBEDDED
    assert result.chain is ChainStatus.FIRST
    done = subprocess.run(
        ["sha256sum", "--check", "--quiet", "SHA256SUMS"],
        cwd=signed,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "scenarios/node-loss-slow/verdicts.json",
        "report.html",
        "junit.xml",
        "scenarios/db-failover-primary-crash/samples/warehouse_scan.csv",
        "metrics.prom",
        "SHA256SUMS",
        "SHA256SUMS.sig",
        "SHA256SUMS.pub",
    ],
)
def test_one_flipped_byte_names_exactly_that_file(signed: Path, name: str) -> None:
    _flip(signed / name)
    result = verify(signed)
    assert not result.ok
    assert result.changed == (name,), result.report()
    out = io.StringIO()
    assert verify_command(signed, out=out) == 1
    assert f"{name}: changed" in out.getvalue()


def test_missing_and_added_files_are_named(signed: Path) -> None:
    (signed / "controls.json").unlink()
    (signed / "smuggled.txt").write_text("x")
    result = verify(signed)
    assert result.missing == ("controls.json",)
    assert result.added == ("smuggled.txt",)
    assert result.changed == ()
    assert not result.ok


def test_bundles_chain_and_a_rewritten_earlier_bundle_breaks_the_link(tmp_path: Path) -> None:
    first = finished_bundle(tmp_path, "run-0001")
    second = finished_bundle(tmp_path, "run-0002", started_at=START.replace(hour=13))
    linked = verify(second)
    assert linked.ok
    assert (linked.chain, linked.previous_run) == (ChainStatus.LINKED, "run-0001")
    assert "../run-0001/SHA256SUMS" in (second / "SHA256SUMS").read_text()

    _flip(first / "SHA256SUMS", 10)
    broken = verify(second)
    assert broken.chain is ChainStatus.BROKEN
    assert not broken.ok
    assert "run-0001 was rewritten" in broken.report()

    shutil.rmtree(first)
    retained = verify(second)
    assert retained.chain is ChainStatus.PREVIOUS_ABSENT
    assert retained.ok  # retention removed it; the remaining bundle is still intact


def test_signature_against_a_trusted_key_and_a_wrong_one(tmp_path: Path) -> None:
    key = _key(tmp_path / "key.pem")
    bundle = finished_bundle(tmp_path / "reports", signing_key=key)
    public = tmp_path / "key.pub"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(public)], check=True)
    assert verify(bundle, public).signature is SignatureStatus.VALID
    # The raw signature is what openssl makes and checks for Ed25519.
    done = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(public),
            "-rawin",
            "-in",
            str(bundle / "SHA256SUMS"),
            "-sigfile",
            str(bundle / "SHA256SUMS.sig"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Signature Verified Successfully" in done.stdout, done.stderr
    other = tmp_path / "other.pub"
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(_key(tmp_path / "other.pem")),
            "-pubout",
            "-out",
            str(other),
        ],
        check=True,
    )
    wrong = verify(bundle, other)
    assert wrong.signature is SignatureStatus.INVALID
    assert wrong.changed == ("SHA256SUMS.sig",)


def test_a_bad_signing_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    with pytest.raises(EvidenceError, match="openssl genpkey -algorithm ed25519"):
        finished_bundle(tmp_path / "reports", signing_key=bad)
    assert not (tmp_path / "reports" / "run-0001").exists()


def test_verify_of_no_bundle_is_a_usage_error(tmp_path: Path) -> None:
    assert verify_command(tmp_path / "nope") == 2
