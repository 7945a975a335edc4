"""A web session across a cache fault: the workload of the cache-loss family.

Odoo keeps web sessions in Redis here; the JSON-RPC probes do not use sessions, so
they cannot tell whether users who work through the web client get back in. This
workload authenticates a web session at the start, and after the run checks:

- users can log in again: a fresh ``/web/session/authenticate`` and a ``call_kw``
  through it succeed (the verdict);
- what happened to the session made before the fault: still valid, or lost so the
  user must re-authenticate (reported in the sentence; a restarted Redis without
  persistence loses it, which the service levels accept for this family).
"""

from __future__ import annotations

from harness.core import Verdict, VerdictKind
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooError, OdooRPCError
from harness.platform.endpoints import StackEndpoints
from harness.scenario.workload import FaultWindow

TIMEOUT_S = 10.0


class SessionReauth:
    """See the module docstring."""

    name = "web session"

    def __init__(self, endpoints: StackEndpoints) -> None:
        login = endpoints.app_login
        self._args = (endpoints.ingress_url, login.db, login.login, login.password, TIMEOUT_S)
        self._before = OdooClient(*self._args)
        self._start_error = ""

    @staticmethod
    def _use(client: OdooClient) -> None:
        """Log in to the web client and read one record through the session."""
        uid = client.authenticate_session().uid
        client.call_kw("res.users", "read", [[uid]], {"fields": ["login"]})

    def start(self) -> None:
        try:
            self._use(self._before)
        except OdooError as exc:
            self._start_error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        """Nothing runs in the background."""

    def _old_session(self) -> str:
        try:
            self._before.call_kw("res.users", "search", [[]], {"limit": 1})
        except OdooRPCError as exc:
            if "SessionExpired" in (exc.name or ""):
                return "the session made before the fault was lost: users re-authenticate"
            return f"the session made before the fault fails with {exc.name or exc}"
        except OdooError as exc:
            return f"the session made before the fault fails with {type(exc).__name__}"
        finally:
            self._before.close()
        return "the session made before the fault is still valid"

    def verdicts(self, window: FaultWindow) -> tuple[Verdict, ...]:
        old = self._old_session()
        error = self._start_error
        if not error:
            with OdooClient(*self._args) as fresh:
                try:
                    self._use(fresh)
                except OdooError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            what = "a new web login and a call through it fail" if error else "users log in again"
        else:
            what = "no web session could be made before the fault"
        sentence = f"{window.scenario} web sessions: {what}; {old}"
        if error:
            sentence += f" ({error})"
        return (
            Verdict(
                VerdictKind.INVARIANT,
                window.scenario,
                window.family,
                not error,
                None,
                None,
                "",
                window.run,
                (),
                sentence,
            ),
        )
