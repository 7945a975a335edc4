"""Settings from the environment: the only module that reads ``os.environ``.

Parsed once into a frozen object; everything else receives values, never reads
the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    #: Where run directories live (reachable by the DB user: not under root's home).
    run_root: Path
    #: A real ``odoo-bin`` to drive instead of the Odoo double (``ODOO_BIN``).
    odoo_bin: Path | None
    #: True inside CI (``CI`` set to a true value), for messages only.
    ci: bool


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if environ is None else environ
    run_root = Path(env.get("ODOO_RESILIENCE_RUN_ROOT", "/tmp/odoo-resilience"))
    if not run_root.is_absolute():
        raise ConfigError(
            f"ODOO_RESILIENCE_RUN_ROOT must be an absolute path, saw {str(run_root)!r}; "
            "set it to e.g. /var/tmp/odoo-resilience"
        )
    odoo_bin_raw = env.get("ODOO_BIN", "").strip()
    odoo_bin = Path(odoo_bin_raw) if odoo_bin_raw else None
    if odoo_bin is not None and not odoo_bin.exists():
        raise ConfigError(
            f"ODOO_BIN points at {odoo_bin}, which does not exist; set it to your odoo-bin "
            "(e.g. ~/src/odoo/odoo-bin) or unset it to use the Odoo double"
        )
    ci = env.get("CI", "").lower() in {"1", "true", "yes"}
    return Settings(run_root=run_root, odoo_bin=odoo_bin, ci=ci)
