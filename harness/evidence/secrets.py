"""Keeping secrets out of evidence: scrubbing what is written, scanning what was written.

Known secrets (the DB password, S3 keys, tokens the run minted) are replaced wherever
they appear, in every form a writer may have encoded them into (raw, JSON-escaped,
HTML/XML-escaped, URL-quoted). Patterns catch what nobody declared: Odoo session ids
(``session_id=...``), ``password=...``-style assignments, AWS access key ids and
``Authorization`` headers. Secrets shorter than ``MIN_SECRET_LEN`` are refused: scrubbing
them would blank out ordinary words and numbers.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.evidence.model import EvidenceError

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 4

_PATTERNS = (
    re.compile(r"(?i)(session_id=)(?!\[REDACTED\])[^;&\s\"'<>,]+"),
    re.compile(
        r"(?i)\b((?:password|passwd|pgpassword|secret|secret_key|access_key|token|api_key)"
        r"[\"']?\s*[=:]\s*[\"']?)(?!\[REDACTED\])[^\s\"'&;,<>]+"
    ),
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic|aws4-hmac-sha256)?\s*)(?!\[REDACTED\])\S+"),
    re.compile(r"()\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
)


def _variants(secret: str) -> set[str]:
    return {
        secret,
        json.dumps(secret)[1:-1],
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
        quote(secret, safe=""),
    }


@dataclass(frozen=True)
class Scrubber:
    """Replaces known secrets and secret-looking assignments in text and bytes."""

    secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        short = [s for s in self.secrets if len(s) < MIN_SECRET_LEN]
        if short:
            raise EvidenceError(
                f"expected secrets of at least {MIN_SECRET_LEN} characters, saw "
                f"{len(short)} shorter; a secret that short cannot be scrubbed without "
                "blanking ordinary text: use longer secrets"
            )
        variants = {v for s in self.secrets for v in _variants(s)}
        # Longest first, so a secret containing another is replaced whole.
        object.__setattr__(self, "secrets", tuple(sorted(variants, key=len, reverse=True)))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def data(self, data: bytes) -> bytes:
        """Scrub bytes: as text when they are UTF-8, else the known secrets only."""
        try:
            return self.text(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            for secret in self.secrets:
                data = data.replace(secret.encode("utf-8"), REDACTED.encode("ascii"))
            return data


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every known secret and every secret-looking assignment redacted."""
    return Scrubber(tuple(secrets)).text(text)


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret (or a secret-looking value) found in a file of a bundle."""

    path: str
    what: str


def scan(root: Path, secrets: Sequence[str]) -> tuple[Finding, ...]:
    """Every file under ``root`` searched for the known secrets and the patterns."""
    findings: list[Finding] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        rel = path.relative_to(root).as_posix()
        findings.extend(
            Finding(rel, f"known secret #{i + 1}")
            for i, secret in enumerate(secrets)
            if secret.encode("utf-8") in data
        )
        text = data.decode("utf-8", errors="replace")
        findings.extend(
            Finding(rel, f"pattern {pattern.pattern[:40]!r} matched {match.group(0)[:60]!r}")
            for pattern in _PATTERNS
            for match in _unredacted(pattern.finditer(text))
        )
    return tuple(findings)


def _unredacted(matches: Iterable[re.Match[str]]) -> list[re.Match[str]]:
    return [m for m in matches if REDACTED not in m.group(0)]
