"""batch-surge: marketplace feeds dump order batches back to back (Locust, the
``import-surge`` load profile) while pickers and receivers work; the interactive flows
must keep their degraded SLO and every imported order must be there afterwards.

The burst orders SKUs of its own (a second seeded catalog): what it shares with the
warehouse flows is the stack (app workers, database connections, CPU), as a noisy
neighbour does, and it cannot starve the probes' products of stock.

Across tenants: the same burst runs in another tenant's database on the same stack
(``endpoints().tenants``) while the probes keep working in the first; its orders are
read back from that database and its invariants checked there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.surge import OrderImportSurge
from harness.levels import FaultFamily
from harness.load.catalog import write_catalog
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from harness.platform.endpoints import AppLogin
from harness.scenario.choose import TopologyUnfit
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.batch_surge]

SURGE_PRODUCTS = 60


def _surge_catalog(runner: ScenarioRunner, login: AppLogin, seed: int) -> Path:
    """Seed the burst's own SKUs in ``login``'s database; the catalog file Locust reads."""
    url = runner.platform.endpoints().ingress_url
    with OdooClient(url, login.db, login.login, login.password, 120) as client:
        client.login()
        skus = seed_warehouse(client, products=SURGE_PRODUCTS, seed=seed % 10_000 + 1)
    return write_catalog(skus, runner.runtime.run_dir / f"surge-catalog-{login.db}.json")


@pytest.mark.nightly
def test_order_import_burst(scenario_runner: ScenarioRunner, harness_seed: int) -> None:
    catalog = _surge_catalog(
        scenario_runner, scenario_runner.platform.endpoints().app_login, harness_seed
    )

    def surge(runtime: FaultRuntime) -> OrderImportSurge:
        return OrderImportSurge(runtime, catalog)

    spec = ScenarioSpec("batch-surge:order-import-burst", FaultFamily.BATCH_SURGE, surge, hold_s=30)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_order_import_burst_in_another_tenant(
    scenario_runner: ScenarioRunner, harness_seed: int
) -> None:
    tenants = scenario_runner.platform.endpoints().tenants
    if not tenants:
        raise TopologyUnfit(
            "expected a stack serving a second tenant database for the cross-tenant burst, "
            f"saw none on the {scenario_runner.platform.name} platform; the local platform "
            "with the Odoo double serves one (StackPlan.tenant_db_names)"
        )
    tenant = tenants[0]
    catalog = _surge_catalog(scenario_runner, tenant, harness_seed)

    def surge(runtime: FaultRuntime) -> OrderImportSurge:
        return OrderImportSurge(runtime, catalog, tenant=tenant)

    spec = ScenarioSpec(
        f"batch-surge:order-import-burst@{tenant.db}", FaultFamily.BATCH_SURGE, surge, hold_s=30
    )
    assert_scenario_passed(scenario_runner.run(spec))
