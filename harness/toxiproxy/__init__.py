"""The built-in Toxiproxy server: Toxiproxy's HTTP API and TCP fault proxy in Python.

The local platform uses the real ``toxiproxy-server`` when it is on PATH and this
server otherwise; both are driven through the same client (``toxiproxy-python``).
This module owns how the platform launches it and how it knows it is ready:
``toxiproxy_command`` is the argv, ``is_ready`` is ``GET /version`` answering 200.
See docs/toxiproxy.md for the behaviours that still differ from the real server.
"""

from __future__ import annotations

import sys

import httpx


def toxiproxy_command(host: str, port: int) -> list[str]:
    """The argv that runs the built-in server with its API on ``host:port``."""
    return [sys.executable, "-m", "harness.toxiproxy", "--host", host, "--port", str(port)]


def is_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when the API at ``host:port`` answers ``GET /version`` with 200."""
    try:
        response = httpx.get(f"http://{host}:{port}/version", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200
