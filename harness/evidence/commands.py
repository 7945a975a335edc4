"""The evidence commands ``odoo-resilience verify | trend | report``: print, return exit codes.

Exit codes (DESIGN.md "Exit codes"): 0 fine, 1 the evidence changed or regressed,
2 bad arguments (no such bundle or folder), 3 a tool the command needs is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from harness.errors import PrerequisiteMissing
from harness.evidence.allure import RESULTS
from harness.evidence.chain import verify
from harness.evidence.model import EvidenceError
from harness.evidence.summary import is_complete, load_summary
from harness.evidence.trend import DEFAULT_TOLERANCE, trend
from harness.tools import INSTALL_HINT, TOOLS_BIN, find_tool

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
ALLURE_TIMEOUT_S = 300


def verify_command(bundle: Path, public_key: Path | None = None, out: TextIO = sys.stdout) -> int:
    """0 when every hash, the chain link and the signature hold; 1 naming what changed."""
    try:
        result = verify(bundle, public_key)
    except EvidenceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(result.report(), file=out)
    return EXIT_OK if result.ok else EXIT_FAILED


def trend_command(
    reports_dir: Path,
    last: int,
    tolerance: float = DEFAULT_TOLERANCE,
    out: TextIO = sys.stdout,
) -> int:
    """The trend table; 1 when the newest run regressed beyond the tolerance."""
    try:
        found = trend(reports_dir, last, tolerance)
    except EvidenceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(found.text(), file=out)
    return EXIT_FAILED if found.regressions else EXIT_OK


def allure_cli() -> Path:
    """The Allure CLI to run; PrerequisiteMissing saying how to get what is missing."""
    allure, java = find_tool("allure"), shutil.which("java")
    if allure is not None and java is not None:
        return allure
    steps = []
    if allure is None:
        steps.append(
            f"{INSTALL_HINT}, or `npm install -g allure-commandline` (needs npm: Debian "
            "apt-get install npm)"
        )
    if java is None:
        steps.append(
            "install Java 8 or newer, which Allure runs on (apt-get install "
            "openjdk-17-jre-headless)"
        )
    found = ", ".join(
        f"{name} {'at ' + str(path) if path else 'missing'}"
        for name, path in (("allure", allure), ("java", java))
    )
    raise PrerequisiteMissing(
        f"expected the Allure CLI and Java to build the Allure HTML, saw {found} (looked in "
        f"{TOOLS_BIN} and on PATH); " + "; ".join(steps)
    )


def report_command(bundle: Path, allure: bool, out: TextIO = sys.stdout) -> int:
    """Say where the run's report is; with ``allure``, build Allure's HTML beside the bundle.

    The Allure HTML goes to ``<bundle>-allure/`` next to the bundle, never inside it:
    the bundle is sealed and anything added would show up in ``verify``.
    """
    if not is_complete(bundle):
        print(
            f"expected a finished evidence bundle at {bundle}, saw "
            f"{'an INCOMPLETE one' if bundle.is_dir() else 'nothing'}; pass a folder under "
            "reports/ whose run finished",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        summary = load_summary(bundle)
    except EvidenceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    failed = [f"{s.scenario} {s.outcome.value}" for s in summary.scenarios if not s.passed]
    verdict = "GO" if summary.passed else f"NO-GO ({', '.join(failed)})"
    print(f"run {summary.run_id}: {verdict}", file=out)
    print(f"report: {bundle / 'report.html'}", file=out)
    if not allure:
        return EXIT_OK
    try:
        cli = allure_cli()
    except PrerequisiteMissing as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    target = bundle.parent / f"{bundle.name}-allure"
    command = [str(cli), "generate", str(bundle / RESULTS), "-o", str(target), "--clean"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=ALLURE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"expected `{' '.join(command)}` to finish, saw {exc}", file=sys.stderr)
        return EXIT_FAILED
    if done.returncode != 0:
        print(
            f"expected `{' '.join(command)}` to succeed, saw exit {done.returncode}: "
            f"{done.stderr.strip()[-500:]}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"allure report: {target / 'index.html'}", file=out)
    return EXIT_OK
