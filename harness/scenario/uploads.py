"""Attachment uploads: the workload of the object-storage family.

Every ``interval_s`` the workload uploads one attachment (``ir.attachment.create`` with
a unique name and random bytes) through the ingress, as a user attaching a delivery
note would, and records when it was sent, when it came back and how. While object
storage is out the uploads are expected to fail (Odoo's object-storage modules fail
the call rather than keep the bytes elsewhere); what must hold:

- nothing acknowledged is lost: every upload that was acknowledged reads back with
  the bytes that were sent (the SHA-1 of ``datas`` read through the app, which
  fetches them from the object store);
- uploads work again: the last upload before the workload stopped succeeded.

The sentences also say how many uploads failed while the fault stood, so the report
shows the outage users of attachments saw.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass

from harness.core import Verdict, VerdictKind
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooError
from harness.platform.endpoints import StackEndpoints
from harness.scenario.workload import FaultWindow, during

UPLOAD_BYTES = 4096
READ_BATCH = 50


@dataclass(frozen=True)
class Upload:
    key: str
    sha1: str
    t_sent_ns: int
    t_done_ns: int
    acked: bool
    error: str


class AttachmentUploads:
    """Uploads an attachment every ``interval_s`` until stopped; see the module docstring."""

    name = "attachment uploads"

    def __init__(
        self, endpoints: StackEndpoints, *, interval_s: float = 0.5, timeout_s: float = 5.0
    ) -> None:
        login = endpoints.app_login
        self._client = OdooClient(
            endpoints.ingress_url, login.db, login.login, login.password, timeout_s
        )
        self._interval_s = interval_s
        self._prefix = f"upload-{uuid.uuid4().hex[:8]}"
        self._uploads: list[Upload] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uploads", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._client.timeout_s * 2 + self._interval_s)

    def uploads(self) -> tuple[Upload, ...]:
        with self._lock:
            return tuple(self._uploads)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self._interval_s):
            n += 1
            key = f"{self._prefix}-{n:06d}"
            data = key.encode() + os.urandom(UPLOAD_BYTES)
            t_sent = time.monotonic_ns()
            error = ""
            try:
                if self._client.uid is None:
                    self._client.login()
                self._client.execute_kw(
                    "ir.attachment",
                    "create",
                    [{"name": key, "datas": base64.b64encode(data).decode()}],
                )
            except OdooError as exc:
                error = type(exc).__name__
            upload = Upload(
                key, hashlib.sha1(data).hexdigest(), t_sent, time.monotonic_ns(), not error, error
            )
            with self._lock:
                self._uploads.append(upload)

    def _read_back(self, keys: list[str]) -> dict[str, str]:
        """SHA-1 of the bytes the app returns for each name (absent: not found)."""
        found: dict[str, str] = {}
        for i in range(0, len(keys), READ_BATCH):
            rows = self._client.execute_kw(
                "ir.attachment",
                "search_read",
                [[("name", "in", keys[i : i + READ_BATCH])]],
                {"fields": ["name", "datas"]},
            )
            for row in rows if isinstance(rows, list) else []:
                datas = row.get("datas") if isinstance(row, dict) else None
                if isinstance(datas, str):
                    found[str(row["name"])] = hashlib.sha1(base64.b64decode(datas)).hexdigest()
        return found

    def effect(self, window: FaultWindow) -> str | None:
        made = [u for u in self.uploads() if during(window, u.t_sent_ns)]
        failed = [u for u in made if not u.acked]
        if not failed:
            return None
        kinds = ", ".join(sorted({u.error for u in failed}))
        return f"{len(failed):,} of {len(made):,} uploads failed while the fault stood ({kinds})"

    def verdicts(self, window: FaultWindow) -> tuple[Verdict, ...]:
        uploads = self.uploads()
        acked = [u for u in uploads if u.acked]
        unread = ""
        try:
            found = self._read_back([u.key for u in acked])
        except OdooError as exc:
            # The store (or the app) is still out: nothing acknowledged can be shown intact.
            found, unread = {}, f"{type(exc).__name__}: {exc}"
        finally:
            self._client.close()
        lost = [u.key for u in acked if found.get(u.key) != u.sha1]
        made = [u for u in uploads if during(window, u.t_sent_ns)]
        failed_during = sum(not u.acked for u in made)
        intact = Verdict(
            VerdictKind.INVARIANT,
            window.scenario,
            window.family,
            not lost,
            0.0,
            float(len(lost)),
            "uploads lost",
            window.run,
            (),
            f"{window.scenario} attachment uploads: {len(acked):,} of {len(uploads):,} "
            f"acknowledged, "
            + (
                "every one reads back with the bytes sent"
                if not lost
                else f"{len(lost):,} lost or altered ({', '.join(lost[:5])})"
            )
            + (f" (the read-back failed: {unread})" if unread else "")
            + f"; {failed_during:,} of {len(made):,} failed while the fault stood",
        )
        last = uploads[-1] if uploads else None
        working = last is not None and last.acked
        again = Verdict(
            VerdictKind.INVARIANT,
            window.scenario,
            window.family,
            working,
            None,
            None,
            "",
            window.run,
            (),
            f"{window.scenario} attachment uploads work again after the revert"
            if working
            else f"{window.scenario} attachment uploads still fail at the end of the run "
            f"(last: {'none made' if last is None else last.error}); the object store did "
            "not come back for the app",
        )
        return intact, again
