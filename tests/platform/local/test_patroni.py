"""Patroni's settings, credentials and binaries as values; the running cluster is
tested on the whole stack in ``test_platform.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, PrerequisiteMissing
from harness.platform.local.patroni import (
    DbCredentials,
    PatroniSettings,
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
