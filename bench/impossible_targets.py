"""Each fault family fails, with its sentence, when its targets are made impossible.

Copies the service levels with every family's ``rto_s`` set to 1 and ``degraded_p95_ms``
to 1 (a failover cannot finish in a second; no flow answers in a millisecond), runs one
scenario per family through the pytest plugin on the local platform, and reads each
scenario's verdicts from the evidence bundle. Every scenario must have failed, and the
failing sentences say why; a scenario that passed is printed as WRONG.

    .venv/bin/python bench/impossible_targets.py [--out bench/results/impossible.json]

About 25 minutes on two cores (one stack, nine scenarios).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.levels import DEFAULT_SERVICE_LEVELS

ROOT = Path(__file__).resolve().parents[1]
#: One scenario per family (pytest -k expression on the test ids).
ONE_PER_FAMILY = (
    "test_unplanned_leader_crash",
    "test_app_node_crash",
    "test_db_path_latency_and_jitter",
    "test_a_broken_flow_behind_green_health_is_rolled_back",
    "test_app_db_partition",
    "test_redis_down",
    "test_s3_outage and link",
    "test_order_import_burst",
    "test_zone_crash",
)


def impossible_levels(source: Path, target: Path) -> None:
    """The service levels with rto_s: 1 and degraded_p95_ms: 1 for every family."""
    text = source.read_text()
    text = re.sub(r"(?m)^(\s+rto_s:)\s*\d+(\.\d+)?\s*$", r"\1 1", text)
    text = re.sub(r"(?m)^(\s+degraded_p95_ms:)\s*\d+\s*$", r"\1 1", text)
    target.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/impossible.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="odoo-res-impossible-"))
    levels = work / "impossible-levels.yaml"
    impossible_levels(DEFAULT_SERVICE_LEVELS, levels)
    reports = work / "reports"
    selection = " or ".join(f"({k})" for k in ONE_PER_FAMILY)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "scenarios",
        "-q",
        "-p",
        "no:cacheprovider",
        "--service-levels",
        str(levels),
        "--reports-dir",
        str(reports),
        "-k",
        selection,
    ]
    print(" ".join(command), flush=True)
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    bundles = sorted(p for p in reports.iterdir() if p.is_dir())
    if not bundles:
        raise SystemExit(f"expected an evidence bundle under {reports}, saw none (exit {code})")
    results = []
    for verdicts_file in sorted((bundles[-1] / "scenarios").glob("*/verdicts.json")):
        data = json.loads(verdicts_file.read_text())
        facts = json.loads((verdicts_file.parent / "facts.json").read_text())
        failing = [v["sentence"] for v in data["verdicts"] if not v["passed"]]
        results.append(
            {
                "scenario": facts["scenario"],
                "family": facts["family"],
                "failed": not data["passed"],
                "abort_reason": facts["abort_reason"],
                "failing_sentences": failing,
            }
        )
        mark = "failed as it must" if not data["passed"] else "WRONG: passed"
        print(f"{facts['scenario']:<44} {mark}; {len(failing)} failing verdicts")
        for sentence in failing[:3]:
            print(f"    {sentence}")
    families = {r["family"] for r in results}
    summary = {
        "pytest_exit": code,
        "families": sorted(families),
        "all_failed": all(r["failed"] for r in results) and len(families) == len(ONE_PER_FAMILY),
        "scenarios": results,
    }
    print(
        f"{len(results)} scenarios over {len(families)} families; "
        f"{'every one failed' if summary['all_failed'] else 'NOT every one failed'}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
