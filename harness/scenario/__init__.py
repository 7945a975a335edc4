"""Scenarios: one fault, observed from steady state to recovery and judged.

``runner`` drives the phases (baseline, fault, recovery, after) around a fault,
with probes measuring from outside, the abort watch and the DB timeline watch;
``targets`` maps the service levels onto the core's targets; ``floor`` explains
the fastest recovery a configuration allows; ``rollout`` is the blue/green
controller the bad-release family exercises.
"""
