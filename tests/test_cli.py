"""The command line as users run it: exit codes and what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.load.catalog import read_catalog
from harness.platform.local.runstate import Phase, RunState, set_current, write_state
from tests.support.standalone import DoubleProcess, free_port, odoo_double, standalone_postgres

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


# --- seed: a warehouse and its load catalog, on a running Odoo ---------------------------


@pytest.fixture(scope="module")
def double() -> Iterator[DoubleProcess]:
    with standalone_postgres() as pg, odoo_double(pg.create_database("odoo")) as app:
        yield app


def _seed(catalog: Path, *options: str) -> list[str]:
    return ["seed", "--catalog", str(catalog), *options]


def test_seed_writes_a_catalog_the_locustfile_reads_and_prints_its_command(
    double: DoubleProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ODOO_LOAD_PASSWORD", "admin")
    catalog = tmp_path / "catalog.json"
    url = ["--url", double.url, "--db", "odoo", "--login", "admin"]

    assert main(_seed(catalog, *url, "--products", "12", "--seed", "31")) == 0
    out = capsys.readouterr().out
    first = read_catalog(catalog)
    assert len(first.products) == 12
    assert "created 12 products" in out
    assert f"catalog: {catalog}" in out
    command = out.splitlines()[-1].split()
    assert command[command.index("-f") + 1].endswith("load/warehouse.py")
    for option, value in (
        ("--host", double.url),
        ("--catalog", str(catalog)),
        ("--odoo-db", "odoo"),
        ("--odoo-login", "admin"),
        ("--profile", "smoke"),
    ):
        assert command[command.index(option) + 1] == value, out
    assert "ODOO_LOAD_PASSWORD is already exported" in out

    # Idempotent: the same seed finds the same records and creates none.
    again = tmp_path / "again.json"
    assert main(_seed(again, *url, "--products", "12", "--seed", "31")) == 0
    assert "created nothing" in capsys.readouterr().out
    assert read_catalog(again) == first


def test_seed_reads_the_current_stack_from_its_run_directory(
    double: DoubleProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_root, run_dir = tmp_path / "runs", tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    # A stand-in for what `up` leaves: a ready run whose supervisor (this process) lives.
    write_state(run_dir, RunState(Phase.READY, os.getpid()))
    endpoints = {
        "ingress_url": double.url,
        "app_login": {"db": "odoo", "login": "admin", "password": "admin"},
    }
    (run_dir / "endpoints.json").write_text(json.dumps(endpoints))
    set_current(run_root, run_dir)
    monkeypatch.setenv("ODOO_RESILIENCE_RUN_ROOT", str(run_root))
    monkeypatch.delenv("ODOO_LOAD_PASSWORD", raising=False)
    catalog = tmp_path / "catalog.json"

    assert main(_seed(catalog, "--products", "5")) == 0
    out = capsys.readouterr().out
    assert len(read_catalog(catalog).products) == 5
    assert f"the stack in {run_dir}" in out
    # The password is not printed: the hint reads it from endpoints.json.
    hint = next(line for line in out.splitlines() if "export ODOO_LOAD_PASSWORD" in line)
    assert str(run_dir / "endpoints.json") in hint
    shown = subprocess.run(
        ["bash", "-c", f'{hint.strip()} && printf %s "$ODOO_LOAD_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "admin"


@pytest.mark.parametrize("left", ["nothing", "a stopped run"])
def test_seed_without_a_running_stack_says_how_to_get_one(
    left: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_root = tmp_path / "runs"
    run_root.mkdir()
    if left == "a stopped run":
        run_dir = run_root / "old"
        run_dir.mkdir()
        write_state(run_dir, RunState(Phase.STOPPED, 2**22 + 1))
        set_current(run_root, run_dir)
    monkeypatch.setenv("ODOO_RESILIENCE_RUN_ROOT", str(run_root))

    assert main(_seed(tmp_path / "catalog.json")) == 3
    err = capsys.readouterr().err
    if left == "nothing":
        assert (
            f"expected a running stack to seed (the current run `odoo-resilience up` "
            f"leaves under {run_root}), saw none" in err
        )
    else:
        assert "to be up (phase ready, supervisor running), saw phase stopped" in err
    assert "`odoo-resilience up`" in err
    assert "--url URL" in err
    assert not (tmp_path / "catalog.json").exists()


def test_seed_of_an_unreachable_url_is_a_platform_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ODOO_LOAD_PASSWORD", "admin")
    url = f"http://127.0.0.1:{free_port()}"
    assert main(_seed(tmp_path / "catalog.json", "--url", url)) == 3
    err = capsys.readouterr().err
    assert f"expected Odoo to answer at {url} (--url {url}), saw:" in err
    assert "odoo-resilience status" in err


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--url", "localhost:8069"), "expected --url to be Odoo's base URL"),
        (("--url", "http://127.0.0.1:1"), "expected the password of 'admin' in"),
    ],
)
def test_seed_refuses_bad_input_before_contacting_odoo(
    options: tuple[str, ...],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ODOO_LOAD_PASSWORD", raising=False)
    assert main(_seed(tmp_path / "catalog.json", *options)) == 2
    assert expected in capsys.readouterr().err


def test_seed_refuses_a_catalog_path_it_cannot_write_before_seeding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ODOO_LOAD_PASSWORD", "admin")
    # Nothing listens on the URL: the path is refused before any connection is tried.
    url = f"http://127.0.0.1:{free_port()}"
    missing = tmp_path / "no" / "such" / "catalog.json"
    assert main(_seed(missing, "--url", url)) == 2
    err = capsys.readouterr().err
    assert f"expected the directory of --catalog {missing} to exist" in err
    assert "mkdir -p" in err
    assert main(_seed(tmp_path, "--url", url)) == 2
    assert "expected --catalog to name a file, saw the directory" in capsys.readouterr().err
