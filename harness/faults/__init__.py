"""Faults: each one injects one kind of breakage through the platform and undoes it.

Every fault writes its undo to the run's journal before it acts, holds a lease that a
reaper process outside the test enforces, and proves with a measurement that it landed
(DESIGN.md "Faults"). ``base`` holds the seam, one module per fault family holds the
faults, ``journal``/``lease``/``reaper``/``recover`` keep a dead run from leaving a
fault behind.
"""
