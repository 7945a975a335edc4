"""The command line as users run it: exit codes and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

BROKEN = Path(__file__).parent / "data" / "levels" / "several-problems.yaml"


def test_levels_check_accepts_the_default_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["levels", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK, 5 flows (3 critical), 10 fault families" in out


def test_levels_check_rejects_a_broken_file_with_every_problem_located(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["levels", "check", str(BROKEN)]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].endswith("13 problems in the service levels:")
    problems = [line for line in lines[1:] if line.startswith(str(BROKEN) + ":")]
    assert len(problems) == 13
    for line in problems:
        location = line.removeprefix(str(BROKEN) + ":").split(":")[:2]
        assert all(part.isdigit() for part in location), line


def test_levels_check_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["levels", "check", str(tmp_path / "nope.yaml")]) == 2


def test_doctor_exits_zero_when_the_local_platform_can_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the local platform can run here" in done.stdout


def test_unknown_commands_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as info:
        main(["explode"])
    assert info.value.code == 2
