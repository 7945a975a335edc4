"""Web sessions through a cache fault: the workload of the cache-loss family, and of
the network family's app-Redis link.

Odoo keeps web sessions in Redis here; the JSON-RPC probes do not use sessions, so
they cannot tell whether users who work through the web client are served. This
workload is such a user: every ``interval_s`` it reads one record through its web
session (``/web/dataset/call_kw``), logging in again (``/web/session/authenticate``)
whenever it has no session or its session expired, and records every call. From that:

- what users saw while the fault stood (``effect``): calls that failed, sessions that
  were lost; a fault on Redis that no session call noticed proved nothing about the
  app's use of Redis;
- users can log in again: after the run a fresh web login and a call through it
  succeed (the verdict);
- what happened to the session made before the fault: still valid, or lost so the
  user must re-authenticate (reported in the sentence; a restarted Redis without
  persistence loses it, which the service levels accept for this family).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from harness.core import Verdict, VerdictKind
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooError, OdooRPCError
from harness.platform.endpoints import StackEndpoints
from harness.scenario.workload import FaultWindow, during

TIMEOUT_S = 10.0
INTERVAL_S = 0.5
EXPIRED = "SessionExpired"


@dataclass(frozen=True, slots=True)
class SessionCall:
    """One use of the web session: a read through it, or a login when it had none."""

    t_sent_ns: int
    t_done_ns: int
    error: str
    """Empty when it answered; else the failure (``SessionExpired``: the session is gone)."""


class SessionReauth:
    """See the module docstring."""

    name = "web session"

    def __init__(
        self,
        endpoints: StackEndpoints,
        *,
        interval_s: float = INTERVAL_S,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        login = endpoints.app_login
        self._args = (endpoints.ingress_url, login.db, login.login, login.password, timeout_s)
        self._before = OdooClient(*self._args)
        self._live = OdooClient(*self._args)
        self._interval_s = interval_s
        self._start_error = ""
        self._calls: list[SessionCall] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-session", daemon=True)

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
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._live.timeout_s * 2 + self._interval_s)
        self._live.close()

    def calls(self) -> tuple[SessionCall, ...]:
        with self._lock:
            return tuple(self._calls)

    def _run(self) -> None:
        logged_in = False
        while not self._stop.wait(self._interval_s):
            t_sent = time.monotonic_ns()
            error = ""
            try:
                if not logged_in:
                    self._live.authenticate_session()
                    logged_in = True
                self._live.call_kw("res.users", "search", [[]], {"limit": 1})
            except OdooRPCError as exc:
                error = EXPIRED if EXPIRED in (exc.name or "") else exc.name or type(exc).__name__
                logged_in = logged_in and error != EXPIRED
            except OdooError as exc:
                error = type(exc).__name__
            with self._lock:
                self._calls.append(SessionCall(t_sent, time.monotonic_ns(), error))

    def effect(self, window: FaultWindow) -> str | None:
        calls = [c for c in self.calls() if during(window, c.t_sent_ns)]
        failed = [c for c in calls if c.error]
        if not failed:
            return None
        kinds = sorted({c.error for c in failed})
        return (
            f"{len(failed):,} of {len(calls):,} web-session calls failed while the fault stood "
            f"({', '.join(kinds)})"
        )

    def _old_session(self) -> str:
        try:
            self._before.call_kw("res.users", "search", [[]], {"limit": 1})
        except OdooRPCError as exc:
            if EXPIRED in (exc.name or ""):
                return "the session made before the fault was lost: users re-authenticate"
            return f"the session made before the fault fails with {exc.name or exc}"
        except OdooError as exc:
            return f"the session made before the fault fails with {type(exc).__name__}"
        finally:
            self._before.close()
        return "the session made before the fault is still valid"

    def verdicts(self, window: FaultWindow) -> tuple[Verdict, ...]:
        error = self._start_error
        if error:
            self._before.close()
            sentence = (
                f"{window.scenario} web sessions: no web session could be made before the "
                f"fault ({error})"
            )
        else:
            old = self._old_session()
            with OdooClient(*self._args) as fresh:
                try:
                    self._use(fresh)
                except OdooError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            what = "a new web login and a call through it fail" if error else "users log in again"
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
