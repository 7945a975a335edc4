"""The pytest plugin (entry point ``pytest11``): options and fixtures scenario suites use.

Users' own suites get it by installing the package; this repository's
``conftest.py`` only adds repository defaults. Wiring only: it assembles the
library's pieces, it computes nothing itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import levels
from harness.errors import ServiceLevelsError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("odoo-resilience", "odoo-resilience scenarios")
    group.addoption(
        "--service-levels",
        dest="odoo_resilience_service_levels",
        default=str(levels.DEFAULT_SERVICE_LEVELS),
        help="service-levels YAML the scenarios assert against (default: %(default)s)",
    )


@pytest.fixture(scope="session")
def service_levels(pytestconfig: pytest.Config) -> levels.ServiceLevels:
    """The parsed service levels; a bad file is a usage error for the whole session."""
    path = Path(pytestconfig.getoption("odoo_resilience_service_levels"))
    try:
        return levels.load_service_levels(path)
    except ServiceLevelsError as err:
        raise pytest.UsageError(levels.format_report(err)) from err
