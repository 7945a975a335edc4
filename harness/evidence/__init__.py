"""The evidence bundle and its reports: what a run leaves for CI, release gates and auditors.

``EvidenceBundle`` writes one folder per run (``bundle``); ``verify`` checks one
(``chain``); ``trend`` compares runs; ``commands`` holds the CLI entry points. What a
scenario hands over is ``ScenarioEvidence`` and the run's ``RunManifest`` (``model``).
"""

from harness.evidence.bundle import EvidenceBundle
from harness.evidence.chain import ChainStatus, SignatureStatus, VerifyResult, verify
from harness.evidence.commands import report_command, trend_command, verify_command
from harness.evidence.model import EvidenceError, RunManifest, ScenarioEvidence
from harness.evidence.secrets import scan, scrub
from harness.evidence.trend import trend

__all__ = [
    "ChainStatus",
    "EvidenceBundle",
    "EvidenceError",
    "RunManifest",
    "ScenarioEvidence",
    "SignatureStatus",
    "VerifyResult",
    "report_command",
    "scan",
    "scrub",
    "trend",
    "trend_command",
    "verify",
    "verify_command",
]
