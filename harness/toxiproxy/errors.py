"""The one error the built-in Toxiproxy server answers with.

Toxiproxy's HTTP API reports every failure as ``{"error": "...", "status": N}``. The
message starts with the exact text the real ``toxiproxy-server`` uses (clients and
people grep for it) and goes on with what was seen and what to do next.
"""

from __future__ import annotations

from harness.errors import ConfigError


class ToxiproxyApiError(ConfigError):
    """A request to the built-in Toxiproxy server was refused; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{message} (HTTP {status})")

    def body(self) -> dict[str, object]:
        """The JSON error body the real server sends."""
        return {"error": self.message, "status": self.status}


def not_found_proxy(name: str) -> ToxiproxyApiError:
    return ToxiproxyApiError(
        404, f"proxy not found: no proxy named {name!r}; GET /proxies lists the proxies"
    )


def not_found_toxic(proxy: str, name: str) -> ToxiproxyApiError:
    return ToxiproxyApiError(
        404,
        f"toxic not found: proxy {proxy!r} has no toxic named {name!r}; "
        f"GET /proxies/{proxy}/toxics lists them",
    )


def bad_body(detail: str) -> ToxiproxyApiError:
    return ToxiproxyApiError(400, f"bad request body: {detail}")


def missing_field(detail: str) -> ToxiproxyApiError:
    return ToxiproxyApiError(400, f"missing required field: {detail}")
