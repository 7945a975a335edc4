"""Patroni's settings, credentials, binaries and record of promotions as values; the
running cluster is tested on the whole stack in ``test_platform.py`` and
``tests/faults/test_faults_live.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, PlatformError, PrerequisiteMissing
from harness.platform.base import Promotion
from harness.platform.local.patroni import (
    DbCredentials,
    PatroniSettings,
    parse_history,
    postgres_bin_dir,
)


# -- values (no daemons) ----------------------------------------------------------------
def test_settings_refuse_a_ttl_patroni_cannot_keep() -> None:
    with pytest.raises(ConfigError, match=r"loop_wait \+ 2 \* retry_timeout <= ttl"):
        PatroniSettings(ttl=10, loop_wait=4, retry_timeout=4)
    assert PatroniSettings(ttl=10, loop_wait=2, retry_timeout=4).ttl == 10


def test_credentials_are_random_and_never_in_repr() -> None:
    first, second = DbCredentials.generate(), DbCredentials.generate()
    assert first.app_password != second.app_password
    assert first.superuser_password not in repr(first)
    assert first.app_password not in repr(first)
    with pytest.raises(ConfigError, match="identifiers"):
        DbCredentials.generate(app_database="odoo; DROP")


def test_postgres_binaries_missing_is_a_clear_prerequisite_error(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match="apt-get install postgresql"):
        postgres_bin_dir(tmp_path)
    (tmp_path / "13" / "bin").mkdir(parents=True)
    (tmp_path / "13" / "bin" / "postgres").touch()
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "postgres").touch()
    assert postgres_bin_dir(tmp_path) == tmp_path / "15" / "bin"


# -- Patroni's record of promotions (GET /history) ---------------------------------------
#: What Patroni 3.0.2 (Debian bookworm) answered on a live stack after a switchover and back.
HISTORY = [
    [1, 100663456, "no recovery target specified", "2026-12-04T18:20:20.707094+00:00", "pg-2"],
    [2, 117440672, "no recovery target specified", "2026-12-04T18:20:28.491094+00:00", "pg-1"],
]
#: 2026-12-04T18:20:20Z in seconds since the epoch.
T_18_20_20 = 1_796_408_420


def test_history_gives_each_promotion_its_timelines_instant_and_new_leader() -> None:
    assert parse_history(HISTORY) == (
        Promotion(1, 2, T_18_20_20 * 10**9 + 707_094_000, "pg-2"),
        Promotion(2, 3, (T_18_20_20 + 8) * 10**9 + 491_094_000, "pg-1"),
    )
    assert parse_history([]) == ()


def test_history_instants_keep_their_utc_offset() -> None:
    (promotion,) = parse_history([[4, 1, "r", "2026-12-04T19:20:20.707094+01:00", "pg-3"]])
    assert promotion.wall_ns == T_18_20_20 * 10**9 + 707_094_000
    assert promotion.timeline == 5


def test_undated_lines_still_chain_the_timelines_but_are_left_out() -> None:
    # Patroni dates a line only from the DCS or the newest history file: older lines
    # may have no timestamp; a timeline that was abandoned leaves a gap (2 -> 4).
    promotions = parse_history(
        [[1, 10, "r"], [2, 20, "r", "2026-12-04T18:20:20+00:00"], [4, 30, "r"]]
    )
    assert promotions == (Promotion(2, 4, T_18_20_20 * 10**9, None),)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"history": []}, "as \\[\\[timeline"),
        ([[1, 10]], "as \\[\\[timeline"),
        ([["1", 10, "r"]], "as \\[\\[timeline"),
        ([[1, 10, "r", "yesterday", "pg-1"]], "saw 'yesterday'"),
        ([[1, 10, "r", "2026-12-04T18:20:20", "pg-1"]], "with a UTC offset"),
    ],
)
def test_a_history_patroni_would_not_write_is_a_platform_error(
    body: object, complaint: str
) -> None:
    with pytest.raises(PlatformError, match=complaint):
        parse_history(body)
