"""Runs the warehouse locustfile headless as a subprocess and turns its records into samples.

``LoadRun`` owns one Locust run: it starts ``python -m locust -f load/warehouse.py
--headless`` (never importing locust here: STYLE.md "Known hazards"), with ``--processes N``
(default: the number of cores) or the master/worker flags it is given, waits until a
Locust process opened its record file, tails every record file (``records.jsonl`` and
``records.jsonl.<pid>`` of each worker) on a thread into one ``SampleSeries`` per flow plus
the write ledger's ``WriteRecord`` list, and stops Locust within a bounded time: SIGINT to
the Locust master (Locust then stops its users, writes its HTML report and CSV/JSON stats,
and reaps the workers it forked), then SIGKILL to the whole process group. SIGINT, not
SIGTERM: Locust 2.47 leaves its HTML report unwritten on SIGTERM, and here (a headless
run in its own session) its SIGTERM handler did not even run, so it died of the signal
with no JSON stats either.

The Odoo password travels in the environment (``ODOO_LOAD_PASSWORD``), never on the
command line where ``ps`` shows it. So does the owner's pid (``LOAD_OWNER_PID``): the
locustfile quits when this process is gone, so a load never outlives the run that
started it, even one killed with SIGKILL.

Locust writes its own report next to the records: ``locust.html`` (``--html``), the CSV
stats (``locust_stats.csv``, ``_stats_history``, ``_failures``, ``_exceptions``) and
``locust.json`` (``--json-file``), when it stops normally; ``report_files()`` lists what
exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from harness.core.ledger import WriteRecord
from harness.core.samples import SampleSeries
from harness.errors import HarnessError
from harness.load.profiles import DEFAULT_LOAD_PROFILES
from harness.load.records import RecordFormatError, parse_record

LOCUSTFILE: Path = Path(__file__).resolve().parents[2] / "load" / "warehouse.py"
RECORDS_NAME = "records.jsonl"
LOG_NAME = "locust.log"
STATS_PREFIX = "locust"
HTML_NAME = "locust.html"
ALL_FLOWS = "all"
"""The name of the series holding every request of the run, whatever its flow."""
TAIL_INTERVAL_S = 0.1
STDERR_TAIL_LINES = 30
# Locust exits 1 when any request failed (--exit-code-on-error), which a fault run expects.
ACCEPTED_EXIT_CODES = frozenset({0, 1})


class LoadError(HarnessError):
    """Locust did not start, ended abnormally, or wrote records the harness cannot read."""


@dataclass(frozen=True)
class LoadSettings:
    """Everything one Locust run needs; ``processes`` None runs one Locust process."""

    host: str
    catalog: Path
    out_dir: Path
    profile: str = "smoke"
    profiles_file: Path = DEFAULT_LOAD_PROFILES
    db: str = "odoo"
    login: str = "admin"
    password: str = "admin"
    processes: int | None = field(default_factory=os.cpu_count)
    extra_args: tuple[str, ...] = ()
    locustfile: Path = LOCUSTFILE
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 15.0


class LoadRun:
    """One headless Locust run; use as a context manager (stops and drains on exit)."""

    def __init__(self, settings: LoadSettings) -> None:
        self.settings = settings
        self.records_path = settings.out_dir / RECORDS_NAME
        self.log_path = settings.out_dir / LOG_NAME
        self.stats_prefix = settings.out_dir / STATS_PREFIX
        self.html_path = settings.out_dir / HTML_NAME
        self._proc: subprocess.Popen[bytes] | None = None
        self._pgid: int | None = None
        self._lock = threading.Lock()
        self._series: dict[str, SampleSeries] = {}
        self._all = SampleSeries(ALL_FLOWS)
        self._writes: list[WriteRecord] = []
        self._bad_lines: list[str] = []
        self._records = 0
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._stop_tailing = threading.Event()
        self._tailer: threading.Thread | None = None

    def __enter__(self) -> LoadRun:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def command(self) -> list[str]:
        s = self.settings
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(s.locustfile),
            "--headless",
            "--host",
            s.host,
            "--profile",
            s.profile,
            "--profiles-file",
            str(s.profiles_file),
            "--catalog",
            str(s.catalog),
            "--odoo-db",
            s.db,
            "--odoo-login",
            s.login,
            "--records",
            str(self.records_path),
            "--csv",
            str(self.stats_prefix),
            "--json-file",
            str(self.stats_prefix),
            "--html",
            str(self.html_path),
            "--only-summary",
        ]
        if s.processes is not None and s.processes > 0:
            argv += ["--processes", str(s.processes)]
        return [*argv, *s.extra_args]

    def start(self) -> None:
        """Starts Locust; LoadError with its log's tail when it exits or stays silent."""
        if self._proc is not None:
            raise LoadError(f"expected a fresh LoadRun, saw one already started: {self.command()}")
        self.settings.out_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "ODOO_LOAD_PASSWORD": self.settings.password,
            "LOAD_OWNER_PID": str(os.getpid()),
        }
        _become_subreaper()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=LOCUSTFILE.parents[1],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # Its own process group: stop() reaches the workers forked by --processes.
                start_new_session=True,
            )
        self._pgid = self._proc.pid
        deadline = time.monotonic() + self.settings.start_timeout_s
        while not self._record_files():
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise LoadError(
                    f"expected Locust to start and open {self.records_path}, but it exited "
                    f"with {code}; {self.log_path} ends with:\n{self._log_tail()}\n"
                    "Fix the options or the locustfile problem shown above."
                )
            if time.monotonic() > deadline:
                self._kill()
                raise LoadError(
                    f"expected Locust to open {self.records_path} within "
                    f"{self.settings.start_timeout_s:g} s, saw no record file; "
                    f"{self.log_path} ends with:\n{self._log_tail()}"
                )
            time.sleep(0.05)
        self._tailer = threading.Thread(target=self._tail_loop, name="load-records", daemon=True)
        self._tailer.start()

    def wait(self, timeout_s: float) -> int:
        """Waits for the profile's shape to end; LoadError if Locust ends abnormally."""
        proc = self._running()
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise LoadError(
                f"expected Locust to finish its profile within {timeout_s:g} s, it is still "
                "running; give wait() the profile's duration plus a margin, or call stop()"
            ) from None
        self._finish()
        if code not in ACCEPTED_EXIT_CODES:
            raise LoadError(
                f"expected Locust to exit with 0 or 1 (requests failed), saw {code}; "
                f"{self.log_path} ends with:\n{self._log_tail()}"
            )
        return code

    def stop(self) -> int | None:
        """SIGINT, a bounded wait, then SIGKILL; returns Locust's exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            # To the master only: it stops its workers and reaps them before it exits.
            # Signalling the whole group would let a worker outlive its master, to be
            # re-parented to a PID 1 that never reaps it.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=self.settings.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
        code = proc.returncode
        self._finish()
        return code

    def exit_code(self) -> int | None:
        """Locust's exit status once it ended by itself; None while it runs or unstarted."""
        proc = self._proc
        return None if proc is None else proc.poll()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # --- what the run measured ---

    def flows(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._series))

    def series(self, flow: str) -> SampleSeries:
        """The samples of ``flow`` so far (a live object: freeze() it to measure)."""
        with self._lock:
            return self._series.setdefault(flow, SampleSeries(flow))

    def all_requests(self) -> SampleSeries:
        """Every request so far, whatever its flow (a live object: freeze() it)."""
        with self._lock:
            return self._all

    def report_files(self) -> tuple[Path, ...]:
        """Locust's own report files and its log, those that exist."""
        out = self.settings.out_dir
        names = sorted(p for p in out.glob(STATS_PREFIX + "*") if p.is_file())
        return tuple(p for p in names if not p.name.endswith(".pid"))

    def writes(self) -> list[WriteRecord]:
        """The keyed writes so far, in the order their records were read."""
        with self._lock:
            return list(self._writes)

    @property
    def record_count(self) -> int:
        with self._lock:
            return self._records

    def drain(self) -> None:
        """Reads every complete record written so far; LoadError on unreadable lines."""
        for path in self._record_files():
            self._read_new(path)
        with self._lock:
            bad = list(self._bad_lines)
        if bad:
            raise LoadError(f"{len(bad)} unreadable record line(s); the first: {bad[0]}")

    # --- internals ---

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise LoadError("expected a started LoadRun, saw none; call start() first")
        return self._proc

    def _record_files(self) -> Sequence[Path]:
        base = self.records_path
        found = sorted(base.parent.glob(base.name + ".*"))
        return [base, *found] if base.exists() else found

    def _tail_loop(self) -> None:
        while not self._stop_tailing.wait(TAIL_INTERVAL_S):
            for path in self._record_files():
                self._read_new(path)

    def _read_new(self, path: Path) -> None:
        with self._lock:
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as stream:
                    stream.seek(offset)
                    chunk = stream.read()
            except FileNotFoundError:
                return
            if not chunk:
                return
            self._offsets[path] = offset + len(chunk)
            data = self._partial.pop(path, b"") + chunk
            lines = data.split(b"\n")
            # A writer's last line may be half written: keep it for the next read.
            if lines[-1]:
                self._partial[path] = lines[-1]
            for line in lines[:-1]:
                if line:
                    self._ingest(line)

    def _ingest(self, line: bytes) -> None:
        try:
            record = parse_record(line)
        except RecordFormatError as exc:
            self._bad_lines.append(str(exc))
            return
        series = self._series.get(record.flow)
        if series is None:
            series = self._series[record.flow] = SampleSeries(record.flow)
        detail = f"{record.call}: {record.error}" if record.error else record.call
        series.add(record.t_start_ns, record.t_end_ns, record.outcome, detail)
        self._all.add(record.t_start_ns, record.t_end_ns, record.outcome, detail)
        write = record.write_record()
        if write is not None:
            self._writes.append(write)
        self._records += 1

    def _finish(self) -> None:
        self._reap_group()
        self._stop_tailing.set()
        if self._tailer is not None:
            self._tailer.join()
            self._tailer = None
        self._proc = None
        self.drain()

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self._reap_group()

    def _reap_group(self) -> None:
        """Waits for the workers of Locust's group, which we reap as their subreaper.

        Locust 2.47's master may exit without waiting for a worker that is still
        stopping (``kill_workers`` drops a child whose WNOHANG wait found it running), so
        its workers can outlive it, waiting for a master that is gone. They are ours to stop
        (SIGTERM, as Locust's own master would) and to wait for, SIGKILLed past the bound.
        """
        pgid = self._pgid
        if pgid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout_s
        killed = False
        while True:
            try:
                pid, _ = os.waitpid(-pgid, 0 if killed else os.WNOHANG)
            except ChildProcessError:
                break
            if pid != 0:
                continue
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        self._pgid = None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(log unreadable: {exc.strerror})"
        return "\n".join(lines[-STDERR_TAIL_LINES:])


_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Makes this process adopt its orphaned descendants (Linux prctl), so it can reap them.

    PID 1 on the hosts this runs on does not reap, so a Locust worker orphaned by its master
    would stay a zombie forever; as subreaper we wait for it in ``_reap_group``.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise LoadError(
            f"expected prctl(PR_SET_CHILD_SUBREAPER) to succeed, saw {os.strerror(errno)}; "
            "the load runner needs Linux 3.4 or later to reap Locust's worker processes"
        )
