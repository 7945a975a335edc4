"""Warehouse load: profiles, the seed catalog handed to Locust, the record stream, the runner.

``profiles`` parses ``fixtures/load-profiles.yaml``; ``catalog`` and ``records`` own the two
files shared with the locustfile (``load/warehouse.py``), which imports them and nothing
else from the harness, so they stay pure and stdlib-only (plus PyYAML for profiles);
``runner`` runs Locust as a subprocess (never importing it, STYLE.md "Known hazards") and
turns its record stream into samples and write-ledger records.
"""
