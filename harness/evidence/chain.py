"""``SHA256SUMS``: every file's hash, the link to the previous run, a seal, a signature.

Layout of ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks it from inside the bundle,
comment lines are skipped by coreutils):

    <sha256>  <path>                    one line per file of the bundle, sorted
    <sha256>  ../<previous>/SHA256SUMS  the chain link (absent in the first bundle)
    # odoo-resilience evidence <run id>; previous: <run id | none>
    # seal <sha256 of every byte above this line>

The seal tells a changed ``SHA256SUMS`` apart from a changed file it lists (a flipped
byte in a listed hash breaks the seal, not the file). The link makes the bundles of a
reports folder a hash chain: rewriting an earlier bundle breaks the next one's link.
With a user's Ed25519 private key (PEM, unencrypted) the whole ``SHA256SUMS`` is signed
into ``SHA256SUMS.sig`` (the raw 64-byte signature, as ``openssl pkeyutl -rawin``
makes) and the public key is kept as ``SHA256SUMS.pub`` (listed, so hashed). A
signature checked against that embedded key proves integrity only; pass the public key
you trust to prove who signed.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.model import EvidenceError

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "SHA256SUMS.pub"
INCOMPLETE = "INCOMPLETE"
_NOT_LISTED = frozenset({SUMS, SIGNATURE, INCOMPLETE})
_SEAL = "# seal "


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listed_files(bundle: Path) -> list[str]:
    """Every file of the bundle that ``SHA256SUMS`` lists, as sorted POSIX paths."""
    return sorted(
        path.relative_to(bundle).as_posix()
        for path in bundle.rglob("*")
        if path.is_file() and path.relative_to(bundle).as_posix() not in _NOT_LISTED
    )


@dataclass(frozen=True, slots=True)
class PreviousLink:
    run_id: str
    sums_sha256: str


def build_sums(bundle: Path, run_id: str, previous: PreviousLink | None) -> bytes:
    lines = [f"{sha256_file(bundle / name)}  {name}" for name in listed_files(bundle)]
    if previous is not None:
        lines.append(f"{previous.sums_sha256}  ../{previous.run_id}/{SUMS}")
    lines.append(
        f"# odoo-resilience evidence {run_id}; previous: "
        f"{'none' if previous is None else previous.run_id}"
    )
    body = ("\n".join(lines) + "\n").encode("utf-8")
    return body + f"{_SEAL}{hashlib.sha256(body).hexdigest()}\n".encode("ascii")


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise EvidenceError(
            f"expected an unencrypted PEM Ed25519 private key at {path}, saw "
            f"{type(exc).__name__}: {exc}; make one with `openssl genpkey -algorithm ed25519 "
            "-out evidence-key.pem`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(
            f"expected an Ed25519 private key at {path}, saw a {type(key).__name__}; make one "
            "with `openssl genpkey -algorithm ed25519 -out evidence-key.pem`"
        )
    return key


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise EvidenceError(
            f"expected a PEM Ed25519 public key in {source}, saw {type(exc).__name__}: {exc}; "
            "export it with `openssl pkey -in evidence-key.pem -pubout`"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(
            f"expected an Ed25519 public key in {source}, saw a {type(key).__name__}; pass the "
            "public half of the key the bundle was signed with"
        )
    return key


class ChainStatus(enum.Enum):
    FIRST = "first"
    """No earlier bundle was in the reports folder when this one was sealed."""
    LINKED = "linked"
    BROKEN = "broken"
    """The previous bundle's SHA256SUMS is not what this bundle recorded."""
    PREVIOUS_ABSENT = "previous-absent"
    """The previous bundle is gone (retention): the link cannot be checked here."""


class SignatureStatus(enum.Enum):
    UNSIGNED = "unsigned"
    VALID = "valid"
    """Valid under the public key the caller trusts."""
    VALID_EMBEDDED = "valid-embedded"
    """Valid under the key inside the bundle: integrity, not authorship."""
    INVALID = "invalid"


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found; ``ok`` when nothing changed, went missing or was added."""

    bundle: Path
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    incomplete: bool = False
    chain: ChainStatus = ChainStatus.FIRST
    previous_run: str | None = None
    signature: SignatureStatus = SignatureStatus.UNSIGNED
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return (
            not (self.changed or self.missing or self.added or self.incomplete)
            and self.chain is not ChainStatus.BROKEN
            and self.signature is not SignatureStatus.INVALID
        )

    def report(self) -> str:
        lines = [f"{name}: changed" for name in self.changed]
        lines += [f"{name}: missing (listed in {SUMS})" for name in self.missing]
        lines += [f"{name}: added (not listed in {SUMS})" for name in self.added]
        if self.incomplete:
            lines.append(
                f"{INCOMPLETE}: the run never finished this bundle (crashed or still running); "
                "its evidence is partial"
            )
        lines.extend(self.notes)
        verdict = "OK" if self.ok else "FAILED"
        lines.append(
            f"{self.bundle}: {verdict}; chain {self.chain.value}"
            f"{'' if self.previous_run is None else f' to {self.previous_run}'}; "
            f"signature {self.signature.value}"
        )
        return "\n".join(lines)


def _parse(text: str) -> tuple[list[tuple[str, str]], str | None, str]:
    """Hash lines, the seal's digest (None when absent) and the bytes the seal covers."""
    entries: list[tuple[str, str]] = []
    sealed_body = text
    seal: str | None = None
    position = text.rfind("\n" + _SEAL)
    if text.startswith(_SEAL):
        position = -1
        seal, sealed_body = text[len(_SEAL) :].strip(), ""
    elif position >= 0:
        seal = text[position + 1 + len(_SEAL) :].strip()
        sealed_body = text[: position + 1]
    for line in sealed_body.splitlines():
        if not line or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64:
            entries.append((digest, name))
    return entries, seal, sealed_body


def verify(bundle: Path, public_key: Path | None = None) -> VerifyResult:
    """Recompute every hash, the chain link and the signature; name what changed."""
    if not bundle.is_dir():
        raise EvidenceError(
            f"expected an evidence bundle folder at {bundle}, saw nothing there; pass a folder "
            "under reports/ named by its run id"
        )
    incomplete = (bundle / INCOMPLETE).exists()
    sums_path = bundle / SUMS
    if not sums_path.is_file():
        return VerifyResult(
            bundle,
            missing=() if incomplete else (SUMS,),
            incomplete=incomplete,
            notes=(f"{SUMS} is absent: nothing can be checked",),
        )
    raw = sums_path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    entries, seal, body = _parse(text)
    changed: list[str] = []
    notes: list[str] = []
    sums_intact = seal is not None and hashlib.sha256(body.encode()).hexdigest() == seal
    if not sums_intact:
        changed.append(SUMS)
        notes.append(f"{SUMS}: its seal does not match its content; the hash list was edited")

    chain, previous_run = ChainStatus.FIRST, None
    mismatched: list[str] = []
    missing: list[str] = []
    listed: set[str] = set()
    for digest, name in entries:
        if name.startswith("../"):
            previous_run = name.split("/")[1]
            previous = (bundle / name).resolve()
            if not previous.is_file():
                chain = ChainStatus.PREVIOUS_ABSENT
                notes.append(
                    f"previous bundle {previous_run} is not in this folder: link unchecked"
                )
            elif sha256_file(previous) == digest:
                chain = ChainStatus.LINKED
            else:
                chain = ChainStatus.BROKEN
                notes.append(
                    f"{name}: changed since this bundle was sealed (the previous bundle "
                    f"{previous_run} was rewritten); run verify on it to see which file"
                )
            continue
        listed.add(name)
        path = bundle / name
        if not path.is_file():
            missing.append(name)
        elif sha256_file(path) != digest:
            mismatched.append(name)
    signature = SignatureStatus.UNSIGNED
    if (bundle / SIGNATURE).exists():
        signature = _check_signature(bundle, raw, public_key)
        embedded_key_changed = public_key is None and PUBLIC_KEY in mismatched + missing
        if signature is SignatureStatus.INVALID and sums_intact and not embedded_key_changed:
            changed.append(SIGNATURE)
            notes.append(
                f"{SIGNATURE}: does not match {SUMS} under "
                f"{'the given public key' if public_key else 'the key in the bundle'} (the "
                f"signature changed, or {SUMS} was rewritten together with its seal)"
            )
    added = tuple(name for name in listed_files(bundle) if name not in listed)
    if sums_intact:
        changed.extend(mismatched)
    else:
        # A damaged list cannot tell whether a file or its listed hash changed.
        notes.extend(f"{name}: differs from its line in the damaged {SUMS}" for name in mismatched)
    return VerifyResult(
        bundle,
        changed=tuple(changed),
        missing=tuple(missing),
        added=added,
        incomplete=incomplete,
        chain=chain,
        previous_run=previous_run,
        signature=signature,
        notes=tuple(notes),
    )


def _check_signature(bundle: Path, sums: bytes, public_key: Path | None) -> SignatureStatus:
    if public_key is not None:
        try:
            key = load_public_key(public_key.read_bytes(), str(public_key))
        except OSError as exc:
            raise EvidenceError(
                f"expected a public key at {public_key} to check {SIGNATURE}, saw "
                f"{type(exc).__name__}: {exc}; pass --public-key with the signer's key"
            ) from exc
    else:
        try:
            key = load_public_key((bundle / PUBLIC_KEY).read_bytes(), PUBLIC_KEY)
        except (OSError, EvidenceError):
            # The hash check names the damaged or missing key file.
            return SignatureStatus.INVALID
    try:
        key.verify((bundle / SIGNATURE).read_bytes(), sums)
    except InvalidSignature:
        return SignatureStatus.INVALID
    return SignatureStatus.VALID if public_key is not None else SignatureStatus.VALID_EMBEDDED
