"""batch-surge: marketplace feeds dump order batches back to back (Locust, the
``import-surge`` load profile) while pickers and receivers work; the interactive flows
must keep their degraded SLO and every imported order must be there afterwards.

The burst orders SKUs of its own (a second seeded catalog): what it shares with the
warehouse flows is the stack (app workers, database connections, CPU), as a noisy
neighbour does, and it cannot starve the probes' products of stock.
"""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.surge import OrderImportSurge
from harness.levels import FaultFamily
from harness.load.catalog import write_catalog
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.batch_surge]

SURGE_PRODUCTS = 60


@pytest.mark.nightly
def test_order_import_burst(scenario_runner: ScenarioRunner, harness_seed: int) -> None:
    endpoints = scenario_runner.platform.endpoints()
    login = endpoints.app_login
    with OdooClient(endpoints.ingress_url, login.db, login.login, login.password, 120) as client:
        client.login()
        skus = seed_warehouse(client, products=SURGE_PRODUCTS, seed=harness_seed % 10_000 + 1)
    catalog = write_catalog(skus, scenario_runner.runtime.run_dir / "surge-catalog.json")

    def surge(runtime: FaultRuntime) -> OrderImportSurge:
        return OrderImportSurge(runtime, catalog)

    spec = ScenarioSpec("batch-surge:order-import-burst", FaultFamily.BATCH_SURGE, surge, hold_s=30)
    assert_scenario_passed(scenario_runner.run(spec))
