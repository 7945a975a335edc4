"""``odoo-resilience``: the command line. Wiring only: parse options, call the
library, turn its errors into messages and exit codes (DESIGN.md "Exit codes"):
0 success, 1 a verdict failed, 2 usage or configuration error, 3 the platform
could not be brought up or reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import doctor, levels
from harness.errors import ConfigError, HarnessError, ServiceLevelsError
from harness.evidence.commands import report_command, trend_command, verify_command
from harness.faults.recover import recover
from harness.platform.local import control
from harness.pytest_plugin import PROFILES
from harness.scenario.session import DEFAULT_SCENARIOS, RunOptions, run_scenarios
from harness.settings import load_settings

EXIT_OK = 0
EXIT_USAGE = 2


def _cmd_levels_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        loaded = levels.load_service_levels(path)
    except ServiceLevelsError as err:
        print(levels.format_report(err), file=sys.stderr)
        return EXIT_USAGE
    print(levels.summary_line(loaded, str(path)))
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace) -> int:
    platforms = tuple(doctor.PLATFORMS) if args.all else (args.platform,)
    checks = doctor.run_checks(platforms)
    print(doctor.render(checks))
    if doctor.can_run(checks, args.platform):
        print(f"\nthe {args.platform} platform can run here")
        return EXIT_OK
    print(
        f"\nthe {args.platform} platform cannot run here: fix the MISSING lines above",
        file=sys.stderr,
    )
    return 3


def _cmd_up(args: argparse.Namespace) -> int:
    settings = load_settings()
    topology = Path(args.topology) if args.topology else None
    return control.up(settings, topology, out=sys.stdout, odoo_bin=args.odoo_bin)


def _cmd_down(args: argparse.Namespace) -> int:
    return control.down(load_settings(), args.run_dir, keep=args.keep, out=sys.stdout)


def _cmd_status(args: argparse.Namespace) -> int:
    return control.status(load_settings(), args.run_dir, as_json=args.json, out=sys.stdout)


def _cmd_recover(args: argparse.Namespace) -> int:
    run_dir = control.resolve_run_dir(load_settings(), args.run_dir)
    reverted = recover(run_dir)
    for fault in reverted:
        print(f"reverted {fault.name} ({fault.family.value}): {'; '.join(fault.steps)}")
    print(
        f"{len(reverted)} fault(s) reverted in {run_dir}"
        if reverted
        else "nothing was left applied"
    )
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    return run_scenarios(
        RunOptions(
            profile=args.profile,
            platform=args.platform,
            scenarios=args.scenarios,
            service_levels=args.service_levels,
            reports_dir=args.reports_dir,
            seed=args.seed,
            keep_on_fail=args.keep_on_fail,
            extra=tuple(args.pytest_args),
        )
    )


def _cmd_verify(args: argparse.Namespace) -> int:
    return verify_command(args.dir, args.public_key)


def _cmd_trend(args: argparse.Namespace) -> int:
    return trend_command(args.reports, args.last)


def _cmd_report(args: argparse.Namespace) -> int:
    return report_command(args.dir, args.allure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odoo-resilience",
        description="Chaos and resilience test harness for Odoo stacks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lv = sub.add_parser("levels", help="service-levels file commands")
    lv_sub = lv.add_subparsers(dest="levels_command", required=True, metavar="SUBCOMMAND")
    check = lv_sub.add_parser("check", help="validate a service-levels file; exit 2 on any problem")
    check.add_argument("file", nargs="?", default=str(levels.DEFAULT_SERVICE_LEVELS))
    check.set_defaults(func=_cmd_levels_check)

    dr = sub.add_parser("doctor", help="check every prerequisite of a platform")
    dr.add_argument("--platform", choices=doctor.PLATFORMS, default="local")
    dr.add_argument("--all", action="store_true", help="also list the other platforms")
    dr.set_defaults(func=_cmd_doctor)

    up = sub.add_parser("up", help="bring the whole stack up and print its endpoints")
    up.add_argument("--platform", choices=("local",), default="local")
    up.add_argument("--topology", help="topology YAML (default fixtures/topology.yaml)")
    up.add_argument(
        "--odoo-bin",
        type=Path,
        help="run this real odoo-bin instead of the Odoo double (also ODOO_BIN; "
        "ODOO_PYTHON and ODOO_ADDONS_PATH complete it)",
    )
    up.set_defaults(func=_cmd_up)

    down = sub.add_parser("down", help="stop everything a run started")
    down.add_argument("--run-dir", type=Path, help="the run to stop (default: the current one)")
    down.add_argument("--keep", action="store_true", help="keep data and logs for inspection")
    down.set_defaults(func=_cmd_down)

    st = sub.add_parser("status", help="components, nodes, pids, ports, health, leader, lag")
    st.add_argument("--run-dir", type=Path, help="the run to show (default: the current one)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=_cmd_status)
    rn = sub.add_parser("run", help="run a profile's scenarios and write the evidence bundle")
    rn.add_argument("--profile", choices=PROFILES, default="smoke")
    rn.add_argument("--platform", choices=("local",), default="local")
    rn.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS)
    rn.add_argument("--service-levels", type=Path, default=levels.DEFAULT_SERVICE_LEVELS)
    rn.add_argument("--reports-dir", type=Path, default=Path("reports"))
    rn.add_argument("--seed", type=int)
    rn.add_argument("--keep-on-fail", action="store_true")
    rn.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    rn.set_defaults(func=_cmd_run)

    vf = sub.add_parser("verify", help="check an evidence bundle's hashes, chain and signature")
    vf.add_argument("dir", type=Path)
    vf.add_argument("--public-key", type=Path, help="trusted Ed25519 public key (PEM)")
    vf.set_defaults(func=_cmd_verify)

    tr = sub.add_parser("trend", help="RTO, RPO and SLO figures per scenario across runs")
    tr.add_argument("--reports", type=Path, default=Path("reports"))
    tr.add_argument("--last", type=int, default=10)
    tr.set_defaults(func=_cmd_trend)

    rp = sub.add_parser("report", help="rebuild a bundle's reports (Allure HTML with --allure)")
    rp.add_argument("dir", type=Path)
    rp.add_argument("--allure", action="store_true")
    rp.set_defaults(func=_cmd_report)

    rc = sub.add_parser("recover", help="revert every fault a dead run left applied")
    rc.add_argument("--run-dir", type=Path, help="the run (default: the current one)")
    rc.set_defaults(func=_cmd_recover)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as err:
        print(f"odoo-resilience: {err}", file=sys.stderr)
        return err.exit_code
    except HarnessError as err:
        print(f"odoo-resilience: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("odoo-resilience: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
