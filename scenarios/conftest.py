"""Scenario suites get their options and fixtures from the odoo-resilience pytest plugin
(``harness.pytest_plugin``, loaded through its entry point); nothing is defined here."""
