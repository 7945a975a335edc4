"""Settings from the environment: the only module that reads ``os.environ``.

Parsed once into a frozen object; everything else receives values, never reads
the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError
from harness.platform.local.odoo import default_template_cache
from harness.platform.local.plan import THE_DOUBLE, AppSpec


@dataclass(frozen=True)
class Settings:
    #: Where run directories live (reachable by the DB user: not under root's home).
    run_root: Path
    #: A real ``odoo-bin`` to drive instead of the Odoo double (``ODOO_BIN``).
    odoo_bin: Path | None
    #: The Python that runs ``odoo-bin`` (``ODOO_PYTHON``; default: its shebang).
    odoo_python: Path | None
    #: Extra addons paths for real Odoo (``ODOO_ADDONS_PATH``).
    odoo_addons_path: str | None
    #: Where initialised Odoo databases are cached as dumps (``XDG_CACHE_HOME``).
    template_cache: Path
    #: True inside CI (``CI`` set to a true value), for messages only.
    ci: bool
    #: The Odoo password for ``odoo-resilience seed`` and the locustfile
    #: (``ODOO_LOAD_PASSWORD``, the variable load/warehouse.py reads too).
    load_password: str | None = None


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
    python = env.get("ODOO_PYTHON", "").strip()
    return Settings(
        run_root=run_root,
        odoo_bin=odoo_bin,
        odoo_python=Path(python) if python else None,
        odoo_addons_path=env.get("ODOO_ADDONS_PATH") or None,
        template_cache=default_template_cache(
            Path(env.get("HOME", "/root")), env.get("XDG_CACHE_HOME")
        ),
        ci=ci,
        load_password=env.get("ODOO_LOAD_PASSWORD") or None,
    )


def app_spec(settings: Settings, odoo_bin: Path | None = None) -> AppSpec:
    """The app the platform runs: ``odoo_bin`` (or ``ODOO_BIN``) when set, else the double."""
    chosen = odoo_bin or settings.odoo_bin
    if chosen is None:
        return THE_DOUBLE
    return AppSpec(
        odoo_bin=str(chosen),
        odoo_python=str(settings.odoo_python) if settings.odoo_python else None,
        addons_path=settings.odoo_addons_path,
        template_cache=str(settings.template_cache),
    )
