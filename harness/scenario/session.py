"""``odoo-resilience run``: a profile's scenarios under pytest, with the harness's exit codes.

pytest runs in this process with the plugin; a small observer tells a verdict failure
(exit 1) from a platform that could not be brought up (exit 3) and from bad options
(exit 2), which pytest's own codes do not separate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.errors import ConfigError, PlatformError
from harness.pytest_plugin import BUNDLE_KEY

DEFAULT_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
EXIT_OK, EXIT_VERDICT, EXIT_USAGE, EXIT_PLATFORM = 0, 1, 2, 3


@dataclass(frozen=True)
class RunOptions:
    profile: str
    platform: str
    scenarios: Path
    service_levels: Path
    reports_dir: Path
    seed: int | None
    keep_on_fail: bool
    extra: tuple[str, ...] = ()


class _Outcome:
    """Remembers whether any error came from the platform or from configuration."""

    def __init__(self) -> None:
        self.platform_error: str | None = None
        self.config_error: str | None = None
        self.bundle: Path | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.bundle = config.stash.get(BUNDLE_KEY, None)

    def pytest_exception_interact(
        self,
        node: pytest.Item | pytest.Collector,
        call: pytest.CallInfo[object],
        report: pytest.TestReport | pytest.CollectReport,
    ) -> None:
        excinfo = call.excinfo
        if excinfo is None:
            return
        if excinfo.errisinstance(PlatformError) and self.platform_error is None:
            self.platform_error = str(excinfo.value)
        elif excinfo.errisinstance(ConfigError) and self.config_error is None:
            self.config_error = str(excinfo.value)


def run_scenarios(options: RunOptions) -> int:
    if not options.scenarios.is_dir():
        raise ConfigError(
            f"expected a folder of scenario modules at {options.scenarios}, saw none; pass "
            "--scenarios DIR (this repository's scenarios/ folder, or your own suite)"
        )
    args = [
        str(options.scenarios),
        "-p",
        "no:cacheprovider",
        "--profile",
        options.profile,
        "--platform",
        options.platform,
        "--service-levels",
        str(options.service_levels),
        "--reports-dir",
        str(options.reports_dir),
        "-s",
        *(["--seed", str(options.seed)] if options.seed is not None else []),
        *(["--keep-on-fail"] if options.keep_on_fail else []),
        *options.extra,
    ]
    outcome = _Outcome()
    code = int(pytest.main(args, plugins=[outcome]))
    if outcome.bundle is not None:
        print(f"odoo-resilience: report {outcome.bundle / 'report.html'}")
    if outcome.platform_error is not None:
        print(f"odoo-resilience: the platform could not be brought up: {outcome.platform_error}")
        return EXIT_PLATFORM
    if outcome.config_error is not None or code in (
        pytest.ExitCode.USAGE_ERROR,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        return EXIT_USAGE
    return EXIT_OK if code == pytest.ExitCode.OK else EXIT_VERDICT
