"""``odoo-resilience``: the command line. Wiring only: parse options, call the
library, turn its errors into messages and exit codes (DESIGN.md "Exit codes"):
0 success, 1 a verdict failed, 2 usage or configuration error, 3 the platform
could not be brought up or reached.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness import doctor, levels
from harness.errors import ConfigError, HarnessError, PlatformError, ServiceLevelsError
from harness.evidence.commands import report_command, trend_command, verify_command
from harness.faults.recover import recover
from harness.load.catalog import write_catalog
from harness.load.runner import LOCUSTFILE
from harness.odoo.client import OdooClient
from harness.odoo.errors import (
    LoginRefused,
    OdooConnectionError,
    OdooError,
    OdooHTTPError,
    OdooTimeout,
)
from harness.odoo.seed import SeedCatalog, seed_warehouse
from harness.platform.local import control
from harness.platform.local.process import pid_running
from harness.platform.local.runstate import Phase, read_state
from harness.pytest_plugin import PROFILES
from harness.scenario.session import DEFAULT_SCENARIOS, RunOptions, run_scenarios
from harness.settings import load_settings

EXIT_OK = 0
EXIT_USAGE = 2
#: Where ``seed`` (and load/warehouse.py) take the Odoo password from: never an option.
PASSWORD_ENV = "ODOO_LOAD_PASSWORD"
SEED_TIMEOUT_S = 60.0
#: Prints a stack's app password from its endpoints.json (the hint ``seed`` prints).
_READ_APP_PASSWORD = 'import json,sys; print(json.load(open(sys.argv[1]))["app_login"]["password"])'


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


@dataclass(frozen=True)
class _SeedTarget:
    """The Odoo ``seed`` writes to, and where its password came from (for the hint)."""

    url: str
    db: str
    login: str
    password: str
    source: str
    """In words: the stack's run directory, or --url."""
    password_hint: str
    """A shell line (or comment) that gives locust the same password."""


def _cmd_seed(args: argparse.Namespace) -> int:
    catalog_path = Path(args.catalog).absolute()
    _check_writable(catalog_path)
    # The variable load/warehouse.py reads too, so seed and load always agree.
    env_password = load_settings().load_password
    target = (
        _url_target(args, env_password)
        if args.url is not None
        else _stack_target(args, env_password)
    )
    seeded = _seed(target, products=args.products, seed=args.seed)
    try:
        write_catalog(seeded, catalog_path)
    except OSError as exc:
        raise ConfigError(
            f"expected to write the load catalog to {catalog_path}, could not "
            f"({exc.strerror}); pass a --catalog in a directory you can write to "
            f"(the warehouse is seeded: running again with --seed {args.seed} creates nothing)"
        ) from None
    print(_seed_report(target, seeded, catalog_path))
    return EXIT_OK


def _check_writable(path: Path) -> None:
    """Refuses a catalog path that cannot be written, before anything is seeded."""
    parent = path.parent
    if path.is_dir():
        raise ConfigError(
            f"expected --catalog to name a file, saw the directory {path}; "
            f"pass e.g. --catalog {path / 'catalog.json'}"
        )
    if not parent.is_dir():
        raise ConfigError(
            f"expected the directory of --catalog {path} to exist, saw no {parent}; "
            f"create it (mkdir -p {shlex.quote(str(parent))}) or pass another path"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(
            f"expected --catalog {path} to be writable, saw "
            f"{path if path.exists() else parent} not writable by this user; "
            "pass a path in a directory you can write to (e.g. /tmp/catalog.json)"
        )


def _url_target(args: argparse.Namespace, env_password: str | None) -> _SeedTarget:
    url = str(args.url).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"expected --url to be Odoo's base URL, like http://127.0.0.1:8069, saw {args.url!r}; "
            "pass the scheme, host and port (for a stack: its ingress_url)"
        )
    login = args.login or "admin"
    if env_password is None:
        raise ConfigError(
            f"expected the password of {login!r} in the environment variable {PASSWORD_ENV} "
            f"(never on the command line), saw it unset; run `export {PASSWORD_ENV}=...` "
            "and try again (locust reads the same variable)"
        )
    return _SeedTarget(
        url=url,
        db=args.db or "odoo",
        login=login,
        password=env_password,
        source=f"--url {url}",
        password_hint=f"# {PASSWORD_ENV} is already exported in this shell: locust reads it",
    )


def _stack_target(args: argparse.Namespace, env_password: str | None) -> _SeedTarget:
    """The running stack's ingress and app login, from its run directory."""
    settings = load_settings()
    remedy = (
        "start one with `odoo-resilience up`, pass its --run-dir, or seed any Odoo with "
        f"--url URL [--db DB] [--login LOGIN] and its password in {PASSWORD_ENV}"
    )
    try:
        run_dir = control.resolve_run_dir(settings, args.run_dir)
    except PlatformError:
        raise PlatformError(
            f"expected a running stack to seed (the current run `odoo-resilience up` leaves "
            f"under {settings.run_root}), saw none: nothing is up, or it was started with "
            f"another ODOO_RESILIENCE_RUN_ROOT; {remedy}"
        ) from None
    state = read_state(run_dir)
    if state is None or state.phase is not Phase.READY or not pid_running(state.supervisor_pid):
        seen = (
            "no state.json"
            if state is None
            else f"phase {state.phase.value}"
            + ("" if pid_running(state.supervisor_pid) else ", its supervisor gone")
        )
        raise PlatformError(
            f"expected the stack in {run_dir} to be up (phase ready, supervisor running), "
            f"saw {seen}; `odoo-resilience down` it, then {remedy}"
        )
    endpoints_file = run_dir / "endpoints.json"
    try:
        data = json.loads(endpoints_file.read_text())
        url, app = str(data["ingress_url"]), data["app_login"]
        db, login, password = str(app["db"]), str(app["login"]), str(app["password"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlatformError(
            f"expected {endpoints_file} to give ingress_url and app_login (db, login, "
            f"password), could not read them ({exc!r}); check `odoo-resilience status`, "
            f"or pass --url URL --db DB --login LOGIN with the password in {PASSWORD_ENV}"
        ) from None
    reader = shlex.join([sys.executable, "-c", _READ_APP_PASSWORD, str(endpoints_file)])
    hint = (
        f"# {PASSWORD_ENV} is already exported in this shell: locust reads it"
        if env_password is not None
        else f'export {PASSWORD_ENV}="$({reader})"'
    )
    return _SeedTarget(
        url=url.rstrip("/"),
        db=args.db or db,
        login=args.login or login,
        password=env_password or password,
        source=f"the stack in {run_dir}",
        password_hint=hint,
    )


def _seed(target: _SeedTarget, *, products: int, seed: int) -> SeedCatalog:
    try:
        with OdooClient(
            target.url, target.db, target.login, target.password, SEED_TIMEOUT_S
        ) as client:
            client.login()
            return seed_warehouse(client, products=products, seed=seed)
    except LoginRefused:
        raise ConfigError(
            f"expected Odoo at {target.url} ({target.source}) to log {target.login!r} in to "
            f"database {target.db!r}, it refused; check --db, --login and the password in "
            f"{PASSWORD_ENV}"
        ) from None
    except (OdooConnectionError, OdooTimeout, OdooHTTPError) as exc:
        raise PlatformError(
            f"expected Odoo to answer at {target.url} ({target.source}), saw: {exc} "
            "For a stack, `odoo-resilience status` shows its health and ingress_url."
        ) from None
    except OdooError as exc:
        raise PlatformError(
            f"expected Odoo at {target.url} ({target.source}) to take the seed data, saw: "
            f"{exc} Seeding needs Odoo 17/18 with the stock module installed."
        ) from None


def _seed_report(target: _SeedTarget, seeded: SeedCatalog, catalog: Path) -> str:
    created = seeded.created
    made = (
        f"created {created.products} products, {created.bins} bins, {created.partners} "
        f"partners, {created.quants} stock adjustments"
        if (created.products, created.bins, created.partners, created.quants) != (0, 0, 0, 0)
        else "found every record already there, created nothing"
    )
    # The locust of this interpreter's environment (the harness is importable there).
    script = Path(sys.executable).with_name("locust")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "locust"]
    command = shlex.join(
        [
            *launcher,
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            target.url,
            "--catalog",
            str(catalog),
            "--odoo-db",
            target.db,
            "--odoo-login",
            target.login,
            "--profile",
            "smoke",
        ]
    )
    return "\n".join(
        [
            f"seeded {len(seeded.products)} products (seed {seeded.seed}) on database "
            f"{target.db} at {target.url} ({target.source}): {made}",
            f"catalog: {catalog}",
            "run the warehouse load against it (profile smoke: 5 users for 10 s; drop "
            "--headless for the web UI on http://127.0.0.1:8089):",
            f"  {target.password_hint}",
            f"  {command}",
        ]
    )


def _cmd_verify(args: argparse.Namespace) -> int:
    return verify_command(args.dir, args.public_key)


def _cmd_trend(args: argparse.Namespace) -> int:
    return trend_command(args.reports, args.last)


def _cmd_report(args: argparse.Namespace) -> int:
    return report_command(args.dir, args.allure)


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a whole number >= 1, saw 0")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, saw {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, saw {value}")
    return value


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

    sd = sub.add_parser(
        "seed",
        help="seed a warehouse on a running Odoo and write the catalog load/warehouse.py reads",
        description="Seed a warehouse (idempotent: the same --seed finds the same records) on "
        "the running stack (default: the current one) or on any Odoo given by --url, write "
        "the load catalog and print the locust command that runs the warehouse load on it. "
        f"The password comes from {PASSWORD_ENV} or, for a stack, from its endpoints.json.",
    )
    sd.add_argument("--catalog", type=Path, required=True, help="where to write the catalog")
    where = sd.add_mutually_exclusive_group()
    where.add_argument("--run-dir", type=Path, help="the stack to seed (default: the current one)")
    where.add_argument("--url", help="Odoo's base URL instead of a stack's ingress")
    sd.add_argument("--db", help="database (default: the stack's, or odoo)")
    sd.add_argument("--login", help="login (default: the stack's, or admin)")
    sd.add_argument("--products", type=_positive, default=60, help="default: %(default)s")
    sd.add_argument("--seed", type=_non_negative, default=7, help="default: %(default)s")
    sd.set_defaults(func=_cmd_seed)

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
