"""Shared fixtures. ``local_stack``: one real local stack for the whole test session
(it takes most of a minute to start), created only when a test asks for it.

Tests that break something restore it before they return, so the next test finds
the stack whole; teardown proves ``down`` leaves nothing behind.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.platform.local.platform import LocalPlatform
from harness.platform.local.topology import DEFAULT_TOPOLOGY
from tests.support.runs import fresh_run_root

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalPlatform]:
    root = Path(tempfile.mkdtemp(prefix="odoo-res-stack-", dir="/var/tmp"))
    platform = LocalPlatform.create(root, DEFAULT_TOPOLOGY, "t-" + secrets.token_hex(4))
    plan = platform.plan
    platform.up(progress=print)
    try:
        yield platform
    finally:
        platform.down(keep=False)
        leftovers = platform.leftovers()
        shutil.rmtree(root, ignore_errors=True)
        assert leftovers == [], leftovers
        assert not plan.run_dir.exists()


@pytest.fixture
def run_root() -> Iterator[Path]:
    """A fresh run root the DB user can reach; a stack left up in it is taken down."""
    with fresh_run_root() as root:
        yield root
