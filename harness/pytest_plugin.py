"""The pytest plugin (entry point ``pytest11``): options, markers and fixtures of scenarios.

Users' own suites get it by installing the package; this repository's
``conftest.py`` only adds repository defaults. Wiring only: it assembles the
library's pieces (platform, seed, runner) and computes nothing itself.

- ``--platform`` brings a stack up once per session (``stack``); a platform that
  cannot be brought up is an error for every scenario, never a skip.
- ``--profile smoke|gate|nightly`` keeps the scenarios marked with that profile.
- ``--service-levels`` is what every verdict is judged against.
- ``--keep-on-fail`` keeps the stack's data and logs when a scenario failed.
- ``--seed`` makes the harness's own choices (seed data, which node) replayable.

The session's evidence bundle holds every scenario a test ran through
``scenario_runner``: the results the runner delivered, and, through the report hook,
each scenario test that raised instead (errored). It is written before the stack goes
down whenever any scenario ended, even when every one errored.
"""

from __future__ import annotations

import getpass
import hashlib
import random
import secrets
import socket
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import __version__, levels
from harness.errors import ServiceLevelsError
from harness.evidence.bundle import EvidenceBundle
from harness.evidence.model import RunManifest, ScenarioRecord
from harness.faults import reaper
from harness.levels import FaultFamily
from harness.load.catalog import write_catalog
from harness.load.profiles import DEFAULT_LOAD_PROFILES, LoadProfileError, load_profiles
from harness.odoo.client import OdooClient
from harness.odoo.seed import SeedCatalog, seed_warehouse
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.topology import DEFAULT_TOPOLOGY
from harness.scenario.background import LoadPlan
from harness.scenario.evidence import SessionScenarios
from harness.scenario.manifest import component_versions, git_dirty, git_revision
from harness.scenario.runner import ScenarioResult, ScenarioRunner, ScenarioSpec
from harness.settings import app_spec, load_settings

PROFILES = ("smoke", "gate", "nightly")
#: The after phase per profile: nightly soaks 60 s to show the recovery lasts.
SOAK_S = {"nightly": 60.0}
#: Where the session's evidence bundle was written (for ``odoo-resilience run``).
BUNDLE_KEY = pytest.StashKey[Path]()
#: The session's scenarios (set up with the first ``scenario_runner``), for the report hook.
SCENARIOS_KEY = pytest.StashKey[SessionScenarios]()
PLATFORMS = ("local",)
#: The background load of scenarios run without --profile (fixtures/load-profiles.yaml).
DEFAULT_LOAD_FOR = "smoke"
#: The background load's own SKUs, seeded next to the probes' (its seed is offset so its
#: customers, vendors and products are its own; the batch-surge burst uses offset 1).
LOAD_PRODUCTS = 60
LOAD_SEED_OFFSET = 2
FAMILY_MARKERS = {family.value.replace("-", "_"): family for family in FaultFamily}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("odoo-resilience", "odoo-resilience scenarios")
    group.addoption(
        "--service-levels",
        dest="odoo_resilience_service_levels",
        default=str(levels.DEFAULT_SERVICE_LEVELS),
        help="service-levels YAML the scenarios assert against (default: %(default)s)",
    )
    group.addoption(
        "--platform",
        dest="odoo_resilience_platform",
        default="local",
        choices=PLATFORMS,
        help="where the stack runs (default: %(default)s)",
    )
    group.addoption(
        "--profile",
        dest="odoo_resilience_profile",
        default=None,
        choices=PROFILES,
        help="run only the scenarios of this profile",
    )
    group.addoption(
        "--topology",
        dest="odoo_resilience_topology",
        default=str(DEFAULT_TOPOLOGY),
        help="local platform topology (default: %(default)s)",
    )
    group.addoption(
        "--odoo-bin",
        dest="odoo_resilience_odoo_bin",
        default=None,
        help="run this real odoo-bin instead of the Odoo double (also ODOO_BIN)",
    )
    group.addoption(
        "--keep-on-fail",
        dest="odoo_resilience_keep_on_fail",
        action="store_true",
        help="keep the stack's data and logs when a scenario failed",
    )
    group.addoption(
        "--reports-dir",
        dest="odoo_resilience_reports_dir",
        default="reports",
        help="where each run's evidence bundle goes (default: %(default)s)",
    )
    group.addoption(
        "--signing-key",
        dest="odoo_resilience_signing_key",
        default=None,
        help="Ed25519 private key (PEM) that signs each bundle's SHA256SUMS",
    )
    group.addoption(
        "--pushgateway",
        dest="odoo_resilience_pushgateway",
        default=None,
        help="Prometheus Pushgateway URL to push each run's metrics to",
    )
    group.addoption(
        "--load-profiles",
        dest="odoo_resilience_load_profiles",
        default=str(DEFAULT_LOAD_PROFILES),
        help="load-profiles YAML whose background profile runs under every scenario "
        "(default: %(default)s)",
    )
    group.addoption(
        "--seed",
        dest="odoo_resilience_seed",
        type=int,
        default=None,
        help="seed for the harness's choices (default: random, printed)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for profile in PROFILES:
        config.addinivalue_line("markers", f"{profile}: part of the {profile} profile")
    for marker, family in FAMILY_MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: a {family.value} scenario")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    profile = config.getoption("odoo_resilience_profile")
    if profile is None:
        return
    kept = [item for item in items if item.get_closest_marker(profile) is not None]
    dropped = [item for item in items if item.get_closest_marker(profile) is None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


@dataclass(frozen=True)
class Stack:
    """A running stack with its seeded warehouse; ``started`` is when it began coming up."""

    platform: LocalPlatform
    catalog: SeedCatalog
    journal_dir: Path
    seed: int
    started: datetime
    load_catalog: Path | None = None
    """The background load's own seed catalog (None: scenarios run without the load)."""


@pytest.fixture(scope="session")
def service_levels(pytestconfig: pytest.Config) -> levels.ServiceLevels:
    """The parsed service levels; a bad file is a usage error for the whole session."""
    path = Path(pytestconfig.getoption("odoo_resilience_service_levels"))
    try:
        return levels.load_service_levels(path)
    except ServiceLevelsError as err:
        raise pytest.UsageError(levels.format_report(err)) from err


@pytest.fixture(scope="session")
def harness_seed(pytestconfig: pytest.Config) -> int:
    seed: int | None = pytestconfig.getoption("odoo_resilience_seed")
    return seed if seed is not None else random.SystemRandom().randrange(2**31)


@pytest.fixture(scope="session")
def stack(
    pytestconfig: pytest.Config, request: pytest.FixtureRequest, harness_seed: int
) -> Iterator[Stack]:
    """The whole stack, up for the session and seeded; down (or kept) at the end.

    Failing to bring it up raises, so every scenario that needs it errors.
    """
    topology = Path(pytestconfig.getoption("odoo_resilience_topology"))
    settings = load_settings()
    odoo_bin = pytestconfig.getoption("odoo_resilience_odoo_bin")
    platform = LocalPlatform.create(
        settings.run_root,
        topology,
        "pytest-" + secrets.token_hex(4),
        app_spec(settings, Path(odoo_bin) if odoo_bin else None),
    )
    run_dir = platform.plan.run_dir
    print(f"\nodoo-resilience: seed {harness_seed}; stack in {run_dir}")
    started = datetime.now(UTC)
    platform.up(progress=lambda line: print(f"  {line}"))
    failed_before = request.session.testsfailed
    try:
        login = platform.endpoints().app_login
        with OdooClient(
            platform.endpoints().ingress_url, login.db, login.login, login.password, 120
        ) as client:
            client.login()
            catalog = seed_warehouse(client, products=200, seed=harness_seed % 10_000)
            load_skus = seed_warehouse(
                client, products=LOAD_PRODUCTS, seed=harness_seed % 10_000 + LOAD_SEED_OFFSET
            )
        load_catalog = write_catalog(load_skus, run_dir / "load-catalog.json")
        yield Stack(platform, catalog, run_dir, harness_seed, started, load_catalog)
    finally:
        keep = bool(pytestconfig.getoption("odoo_resilience_keep_on_fail")) and (
            request.session.testsfailed > failed_before
        )
        # The run's fault reaper (started by the first fault) goes before the stack.
        reaper.stop(run_dir)
        platform.down(keep=keep)
        if keep:
            print(f"\nodoo-resilience: kept data and logs of the failed run in {run_dir}")


@pytest.fixture(scope="session")
def session_scenarios(
    pytestconfig: pytest.Config, stack: Stack, service_levels: levels.ServiceLevels
) -> Iterator[SessionScenarios]:
    """Every scenario of the session; at its end (before the stack goes down) the bundle."""
    scenarios = SessionScenarios(service_levels)
    pytestconfig.stash[SCENARIOS_KEY] = scenarios
    yield scenarios
    if scenarios.records:
        bundle = write_bundle(pytestconfig, stack, scenarios.records)
        pytestconfig.stash[BUNDLE_KEY] = bundle
        print(f"\nodoo-resilience: evidence bundle {bundle}\n  report: {bundle / 'report.html'}")


class SessionRunner(ScenarioRunner):
    """The ``scenario_runner`` of one test: tells the session's scenarios which scenario
    the test starts and what the runner delivers, so one that raises is still named."""

    def __init__(
        self,
        scenarios: SessionScenarios,
        test: str,
        stack: Stack,
        service_levels: levels.ServiceLevels,
        *,
        soak_s: float,
        load: LoadPlan | None,
    ) -> None:
        super().__init__(
            stack.platform,
            service_levels,
            stack.catalog,
            stack.journal_dir,
            lambda result: scenarios.delivered(test, result),
            soak_s=soak_s,
            load=load,
        )
        self._scenarios = scenarios
        self._test = test

    def run(self, spec: ScenarioSpec) -> ScenarioResult:
        self._scenarios.started(self._test, spec)
        return super().run(spec)


@pytest.fixture(scope="session")
def load_plan(pytestconfig: pytest.Config, stack: Stack) -> LoadPlan | None:
    """The background load of the session's scenarios (read once); a bad file is a
    usage error."""
    if stack.load_catalog is None:
        return None
    profile = pytestconfig.getoption("odoo_resilience_profile") or DEFAULT_LOAD_FOR
    path = Path(pytestconfig.getoption("odoo_resilience_load_profiles"))
    try:
        load = load_profiles(path).background_for(profile)
    except LoadProfileError as err:
        raise pytest.UsageError(str(err)) from err
    return LoadPlan(load, stack.load_catalog, path)


@pytest.fixture
def scenario_runner(
    stack: Stack,
    service_levels: levels.ServiceLevels,
    session_scenarios: SessionScenarios,
    load_plan: LoadPlan | None,
    request: pytest.FixtureRequest,
) -> ScenarioRunner:
    profile = request.config.getoption("odoo_resilience_profile")
    return SessionRunner(
        session_scenarios,
        request.node.nodeid,
        stack,
        service_levels,
        soak_s=SOAK_S.get(profile or "", 0.0),
        load=load_plan,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A scenario test that raised (in setup or call) goes to the session's scenarios."""
    report = yield
    scenarios = item.config.stash.get(SCENARIOS_KEY, None)
    if (
        scenarios is not None
        and report.failed
        and call.excinfo is not None
        and call.when in ("setup", "call")
        and isinstance(item, pytest.Function)
        and "scenario_runner" in item.fixturenames
    ):
        family = next(
            (FAMILY_MARKERS[m.name] for m in item.iter_markers() if m.name in FAMILY_MARKERS),
            None,
        )
        scenarios.raised(
            item.nodeid,
            call.excinfo.value,
            family=family,
            started_at=datetime.fromtimestamp(call.start, UTC),
            ended_at=datetime.fromtimestamp(call.stop, UTC),
            trace=report.longreprtext,
        )
    return report


def write_bundle(config: pytest.Config, stack: Stack, scenarios: Sequence[ScenarioRecord]) -> Path:
    """The session's evidence bundle: every scenario that ran, judged or errored."""
    levels_path = Path(config.getoption("odoo_resilience_service_levels"))
    service_levels = levels.load_service_levels(levels_path)
    platform = stack.platform
    manifest = RunManifest(
        run_id=platform.plan.run_id,
        started_at=stack.started,
        ended_at=None,
        user=getpass.getuser(),
        host=socket.gethostname(),
        platform=platform.name,
        component_versions=component_versions(),
        git_revision=git_revision(Path(str(config.rootpath))),
        git_dirty=git_dirty(Path(str(config.rootpath))),
        profile=config.getoption("odoo_resilience_profile") or "all",
        seed=stack.seed,
        service_levels_path=str(levels_path),
        service_levels_sha256=hashlib.sha256(levels_path.read_bytes()).hexdigest(),
        tool_version=__version__,
    )
    key = config.getoption("odoo_resilience_signing_key")
    bundle = EvidenceBundle(
        Path(config.getoption("odoo_resilience_reports_dir")),
        manifest,
        controls=service_levels.controls,
        secrets=platform.plan.credentials.all_secrets(),
        signing_key=Path(key) if key else None,
        pushgateway_url=config.getoption("odoo_resilience_pushgateway"),
    )
    for scenario in scenarios:
        bundle.add_scenario(scenario)
    return bundle.finish()


@pytest.fixture
def harness_random(stack: Stack, request: pytest.FixtureRequest) -> random.Random:
    """Replayable choices: the session seed mixed with the test's name."""
    return random.Random(f"{stack.seed}:{request.node.nodeid}")


def pytest_report_header(config: pytest.Config) -> str | None:
    profile = config.getoption("odoo_resilience_profile")
    return f"odoo-resilience profile: {profile}" if profile else None
