"""The record stream: one JSON line per request the locustfile makes.

This module owns the line format both sides use: ``encode_record`` in the locustfile (one
line per request, appended to ``--records PATH`` or ``PATH.<pid>`` per worker process) and
``parse_record`` in the runner. A line holds::

    {"flow": "receiving", "call": "stock.picking.create", "t_start_ns": 1, "t_end_ns": 2,
     "outcome": "ok", "error": "", "key": "rcv-…", "write": "ok"}

``t_*_ns`` are ``time.monotonic_ns()`` of the Locust process, the harness's clock on the
same host (DESIGN.md "Measurement"). ``outcome`` is ok, error or timeout; ``error`` is
Odoo's ``error.data.name``, ``HTTP <status>`` or the transport error's class. ``key`` and
``write`` (ok, fail, unknown) are present only on writes that carry an idempotency key.

Stdlib and ``harness.core`` only: the locustfile imports it inside Locust's gevent process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.core.ledger import WriteOrigin, WriteOutcome, WriteRecord
from harness.core.samples import Outcome
from harness.errors import HarnessError

_OUTCOMES = {"ok": Outcome.OK, "error": Outcome.ERROR, "timeout": Outcome.TIMEOUT}
_WRITES = {w.value: w for w in WriteOutcome}


class RecordFormatError(HarnessError):
    """A line of the record stream is not a record (a locustfile/harness version skew)."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    flow: str
    call: str
    t_start_ns: int
    t_end_ns: int
    outcome: Outcome
    error: str = ""
    key: str = ""
    write: WriteOutcome | None = None

    def write_record(self) -> WriteRecord | None:
        """The ledger's view of this request, when it was a keyed write (made by the load)."""
        if self.write is None:
            return None
        return WriteRecord(
            self.key, self.flow, self.t_start_ns, self.t_end_ns, self.write, WriteOrigin.LOAD
        )


def encode_record(
    flow: str,
    call: str,
    t_start_ns: int,
    t_end_ns: int,
    outcome: str,
    *,
    error: str = "",
    key: str = "",
    write: str = "",
) -> bytes:
    """One line (with its newline) for the stream; ``write`` empty for reads."""
    fields: dict[str, str | int] = {
        "flow": flow,
        "call": call,
        "t_start_ns": t_start_ns,
        "t_end_ns": t_end_ns,
        "outcome": outcome,
        "error": error,
    }
    if write:
        fields["key"] = key
        fields["write"] = write
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def parse_record(line: bytes | str) -> RequestRecord:
    """The record on ``line``; RecordFormatError names what is wrong with it."""
    try:
        fields = json.loads(line)
    except ValueError as exc:
        raise RecordFormatError(_bad(line, f"invalid JSON ({exc})")) from None
    if not isinstance(fields, dict):
        raise RecordFormatError(_bad(line, "not a JSON object"))
    flow, call = fields.get("flow"), fields.get("call")
    start, end = fields.get("t_start_ns"), fields.get("t_end_ns")
    outcome = _OUTCOMES.get(str(fields.get("outcome")))
    error = fields.get("error", "")
    if not (isinstance(flow, str) and flow and isinstance(call, str) and isinstance(error, str)):
        raise RecordFormatError(_bad(line, "flow, call and error must be strings"))
    if (
        not isinstance(start, int)
        or not isinstance(end, int)
        or isinstance(start, bool)
        or isinstance(end, bool)
        or outcome is None
    ):
        raise RecordFormatError(
            _bad(line, "t_start_ns/t_end_ns must be integers and outcome ok|error|timeout")
        )
    write_name = fields.get("write")
    write = None
    if write_name is not None:
        write = _WRITES.get(str(write_name))
        key = fields.get("key")
        if write is None or not isinstance(key, str) or not key:
            raise RecordFormatError(_bad(line, "a write needs a key and write ok|fail|unknown"))
    return RequestRecord(
        flow=flow,
        call=call,
        t_start_ns=start,
        t_end_ns=end,
        outcome=outcome,
        error=error,
        key=str(fields.get("key", "")),
        write=write,
    )


def _bad(line: bytes | str, why: str) -> str:
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    shown = text.strip()[:200]
    return (
        f"expected a load record (one JSON object per line, see harness/load/records.py), "
        f"saw {shown!r}: {why}; run the harness's own load/warehouse.py"
    )
