"""Talking to Odoo 17/18: the JSON-RPC client, the warehouse flows and the seed data.

``client`` owns the wire and the translation of failures into ``errors``; ``flows`` owns the
business flows the probes and load run; ``seed`` owns the deterministic seed warehouse.
"""
