"""How a scenario test states its outcome: the verdict sentences, failing or not."""

from __future__ import annotations

from harness.scenario.runner import ScenarioResult


def assert_scenario_passed(result: ScenarioResult) -> None:
    """Fail with every failing verdict's sentence (then the rest, for context)."""
    print(f"\n{result.spec.name}:\n{result.summary()}")
    if result.passed:
        return
    failing = "\n".join(f"  {s}" for s in result.failures())
    raise AssertionError(
        f"{result.spec.name} failed:\n{failing}\n\nall verdicts:\n{result.summary()}"
    )
