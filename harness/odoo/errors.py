"""The errors a conversation with Odoo can end in.

Every failure of a call to Odoo is one ``OdooError``, so a probe or the load classifies it
with ``isinstance`` alone:

- ``OdooRPCError``: Odoo answered with its JSON-RPC error envelope (odoo-facts.md §1.2).
  ``kind`` says whose fault it is: the database tier (INFRA), the session (SESSION), the
  request itself (BUSINESS) or anything else (OTHER).
- ``OdooHTTPError``: an answer that is not JSON-RPC (400 text for malformed JSON, 404 HTML
  from the nodb fallback during a database outage, 502/503/504 from Traefik).
- ``OdooTimeout``: no complete answer within the client's timeout.
- ``OdooConnectionError``: the connection was refused, reset or closed early.
- ``LoginRefused``: ``common.login`` answered ``false`` (wrong database, login or password).
- ``UnexpectedAnswer``: Odoo answered successfully with a value whose shape the flow cannot
  use (a double drifting from Odoo, or an Odoo version the flows do not know).
- ``FlowIncomplete``: every call succeeded but the read-back shows the business flow did
  not reach its end state (a picking not ``done``, a wizard the flow cannot follow).

``outcome_unknown`` is what the write ledger needs (DESIGN.md "RPO"): True when the request
may have reached Odoo and changed data although no success came back, so only a read-back
can tell; False when Odoo certainly did not apply it.
"""

from __future__ import annotations

import enum

from harness.errors import HarnessError

INFRA_NAME_PREFIXES = ("psycopg2.", "psycopg.")
BUSINESS_NAME_PREFIX = "odoo.exceptions."
SESSION_EXPIRED_CODE = 100


class ErrorKind(enum.Enum):
    """Whose fault an Odoo error envelope is."""

    INFRA = "infra"
    SESSION = "session"
    BUSINESS = "business"
    OTHER = "other"


class OdooError(HarnessError):
    """Base of every failed call to Odoo; ``outcome_unknown`` as in the module docstring."""

    def __init__(self, message: str, *, endpoint: str, outcome_unknown: bool) -> None:
        self.endpoint = endpoint
        self.outcome_unknown = outcome_unknown
        super().__init__(message)


class OdooRPCError(OdooError):
    """Odoo's JSON-RPC error envelope: ``error.code``, ``error.data.name`` and ``.message``."""

    def __init__(
        self,
        *,
        endpoint: str,
        name: str,
        message: str,
        code: int,
        http_status: int,
        debug: str = "",
    ) -> None:
        self.name = name
        self.message = message
        self.code = code
        self.http_status = http_status
        self.debug = debug
        # Odoo commits inside retrying() before it serialises the answer, so an envelope
        # means a rollback, except for a connection lost during COMMIT: only infrastructure
        # errors can hide a write that landed (odoo-facts.md §2.2).
        super().__init__(
            f"Odoo answered {endpoint} with error {name or '(no data.name)'} "
            f"(code {code}, HTTP {http_status}): {message}. {_NEXT_STEP[self.kind]}",
            endpoint=endpoint,
            outcome_unknown=self.kind is ErrorKind.INFRA,
        )

    @property
    def kind(self) -> ErrorKind:
        if self.name.startswith(INFRA_NAME_PREFIXES):
            return ErrorKind.INFRA
        if self.code == SESSION_EXPIRED_CODE:
            return ErrorKind.SESSION
        if self.name.startswith(BUSINESS_NAME_PREFIX):
            return ErrorKind.BUSINESS
        return ErrorKind.OTHER


_NEXT_STEP = {
    ErrorKind.INFRA: "The database tier failed under Odoo; check PostgreSQL/HAProxy and retry "
    "with the same idempotency key.",
    ErrorKind.SESSION: "The session is gone (expired, or the session store lost it); "
    "authenticate again.",
    ErrorKind.BUSINESS: "Odoo refused the request itself; check its arguments and the data.",
    ErrorKind.OTHER: "Unclassified server error; read data.debug in the Odoo log.",
}

# Statuses a proxy returns after it may already have forwarded the request: 502 when the
# backend died mid-request, 504 when it did not answer in time, 500 from an app that failed
# after its transaction (e.g. saving the session to Redis).
_STATUSES_AFTER_FORWARDING = frozenset({500, 502, 504})


class OdooHTTPError(OdooError):
    """An HTTP answer that is not a JSON-RPC envelope; ``body_excerpt`` is its start."""

    def __init__(self, *, endpoint: str, status: int, body_excerpt: str) -> None:
        self.status = status
        self.body_excerpt = body_excerpt
        super().__init__(
            f"expected a JSON-RPC answer from {endpoint}, got HTTP {status} with body "
            f"{body_excerpt!r}. A 404 HTML page means Odoo served it without a database "
            f"(PostgreSQL unreachable); 502/503/504 come from the proxy in front of Odoo.",
            endpoint=endpoint,
            outcome_unknown=status in _STATUSES_AFTER_FORWARDING,
        )


class OdooTimeout(OdooError):
    """No complete answer within the timeout; ``phase`` is connect, write, read or pool."""

    def __init__(self, *, endpoint: str, phase: str, timeout_s: float, sent: bool) -> None:
        self.phase = phase
        self.timeout_s = timeout_s
        super().__init__(
            f"expected an answer from {endpoint} within {timeout_s:g} s, timed out while "
            f"{phase}ing; the request {'may have' if sent else 'had not'} reached Odoo. "
            f"Read back by idempotency key before retrying a write.",
            endpoint=endpoint,
            outcome_unknown=sent,
        )


class OdooConnectionError(OdooError):
    """The connection was refused (nothing sent) or reset/closed after sending."""

    def __init__(self, *, endpoint: str, detail: str, sent: bool) -> None:
        self.detail = detail
        super().__init__(
            f"expected a connection to {endpoint}, got {detail!r}; the request "
            f"{'may have' if sent else 'had not'} reached Odoo. Check that Odoo (or the proxy "
            f"in front of it) is up.",
            endpoint=endpoint,
            outcome_unknown=sent,
        )


class UnexpectedAnswer(OdooError):
    """Odoo answered successfully with a value of the wrong shape for the flow."""

    def __init__(self, *, endpoint: str, expected: str, seen: object) -> None:
        self.expected = expected
        self.seen = seen
        super().__init__(
            f"expected {expected} from {endpoint}, got {_excerpt(repr(seen))}. The server "
            f"speaks a different API version than the flows (Odoo 17/18) expect.",
            endpoint=endpoint,
            outcome_unknown=True,
        )


class FlowIncomplete(OdooError):
    """The calls succeeded but the read-back shows the flow did not reach its end state."""

    def __init__(self, *, endpoint: str, expected: str, seen: str, hint: str) -> None:
        self.expected = expected
        self.seen = seen
        super().__init__(
            f"expected {expected} after {endpoint}, read back {seen}. {hint}",
            endpoint=endpoint,
            outcome_unknown=False,
        )


class LoginRefused(OdooError):
    """``common.login`` answered ``false``: unknown login, wrong password or wrong database."""

    def __init__(self, *, endpoint: str, db: str, login: str) -> None:
        self.db = db
        self.login = login
        super().__init__(
            f"expected a uid from {endpoint} for login {login!r} on database {db!r}, got false. "
            f"Check the database name, login and password (or API key) the harness was given.",
            endpoint=endpoint,
            outcome_unknown=False,
        )


class ClientNotLoggedIn(HarnessError):
    """A call that needs a uid or a session came before ``login()``/``authenticate_session()``."""


def _excerpt(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
