"""odoo-resilience: chaos and resilience test harness for Odoo stacks.

The package is layered (see ../shared/DESIGN.md and docs in README.md):

- ``harness.core``: pure measurement (samples, timeline, steady state, RTO, SLO,
  write-ledger reconciliation, verdicts). No I/O, no clock reads.
- ``harness.levels``: the service-levels file, parsed once into frozen objects.
- ``harness.platform``: where the stack runs (``local`` today); the only code that
  knows hosts, ports and processes.
- ``harness.cli`` and ``harness.pytest_plugin``: the only modules that wire pieces.
"""

__version__ = "0.1.0"
