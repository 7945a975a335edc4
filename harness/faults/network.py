"""Network faults on the proxied links (app→DB, app→Redis, app→S3, ingress→app):
partition (the link's proxy disabled), added latency and jitter, a bandwidth cap,
and connection resets, all through Toxiproxy.

Landed checks measure through the link itself, the way the app reaches its peer:
round trips (``SELECT 1``, ``PING``, an HTTP GET) against a baseline taken before
the fault, throughput of one large reply, refused connects, resets on first bytes.
"""

from __future__ import annotations

import ssl
import statistics
import uuid
from abc import abstractmethod

from harness.errors import FaultDidNotLand, FaultError
from harness.faults import links, measure
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.links import Direction, Toxic, ToxicKind
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.endpoints import HostPort

#: Share of the asked latency the measured added latency must reach.
LATENCY_LANDED_RATIO = 0.8
#: Share of the asked jitter the spread of the round trips must reach.
JITTER_LANDED_RATIO = 0.5
#: The measured throughput may exceed the cap by this much (bursts, timing).
BANDWIDTH_TOLERANCE = 1.25
SAMPLES = 8
#: With jitter a round trip is anywhere in latency ± jitter: when the jitter is 40 % of
#: the latency, the median of 8 lands under 80 % of the latency about once in twenty
#: tries (simulated); the median of 32, about once in a thousand.
JITTERED_SAMPLES = 32


def _listen(runtime: FaultRuntime, link: str) -> HostPort:
    return links.state(runtime.platform.endpoints().toxiproxy_api, link).listen


def round_trips(runtime: FaultRuntime, link: str, count: int = SAMPLES) -> list[float]:
    """Request/response round trips through ``link``, with the protocol its peer speaks."""
    endpoints = runtime.platform.endpoints()
    address = _listen(runtime, link)
    if link in ("db", "db-ro"):
        return measure.db_round_trips(endpoints, address, count)
    if link == "redis":
        return measure.samples_or_fault(
            lambda: measure.redis_round_trips(address, count), f"PING through {link}"
        )
    if link == "s3":
        context = ssl.create_default_context(cafile=endpoints.s3.ca_file)
        url = f"https://{address}/"
        return measure.samples_or_fault(
            lambda: measure.http_round_trips(url, count, context), f"GET {url}"
        )
    if link.startswith("ingress-"):
        url = f"http://{address}/web/health"
        return measure.samples_or_fault(lambda: measure.http_round_trips(url, count), f"GET {url}")
    raise FaultError(f"expected a known link (db, db-ro, redis, s3, ingress-app-N), saw {link!r}")


def first_bytes(link: str) -> bytes:
    """What a client of ``link``'s peer sends first."""
    if link in ("db", "db-ro"):
        return measure.PG_SSL_REQUEST
    if link == "redis":
        return b"*1\r\n$4\r\nPING\r\n"
    return b"GET / HTTP/1.0\r\n\r\n"


class LinkPartition(Fault):
    """The link's proxy stops listening: the app's peer is unreachable (connect refused)."""

    family = FaultFamily.NETWORK

    def __init__(self, runtime: FaultRuntime, link: str, *, lease_s: float = DEFAULT_LEASE_S):
        super().__init__(runtime, lease_s=lease_s)
        self.link = link
        self._address: HostPort | None = None

    @property
    def name(self) -> str:
        return f"partition:{self.link}"

    def prepare(self) -> None:
        self._address = _listen(self.runtime, self.link)

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.ENABLE_LINK, {"link": self.link}),)

    def act(self) -> None:
        links.set_enabled(self.platform.endpoints().toxiproxy_api, self.link, False)

    def measure(self) -> LandedEvidence:
        assert self._address is not None  # set by prepare
        refused = sum(measure.tcp_refuses(self._address) for _ in range(3))
        if refused < 3:
            raise FaultDidNotLand(
                f"expected every connect to {self.link} ({self._address}) refused, saw "
                f"{3 - refused} of 3 accepted; the proxy is still listening"
            )
        return LandedEvidence(
            self.name,
            3.0,
            "connects refused",
            f"{self.link} partitioned: 3 of 3 connects to {self._address} refused",
        )


class _ToxicFault(Fault):
    """A fault that is one toxic on one link; the undo removes the toxic."""

    def __init__(self, runtime: FaultRuntime, link: str, *, lease_s: float) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.link = link
        self.toxic_name = f"harness-{uuid.uuid4().hex[:8]}"

    @abstractmethod
    def toxic(self) -> Toxic:
        """The toxic this fault adds (its name is ``toxic_name``)."""

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.REMOVE_TOXIC, {"link": self.link, "toxic": self.toxic_name}),)

    def act(self) -> None:
        links.add_toxic(self.platform.endpoints().toxiproxy_api, self.link, self.toxic())


class LinkLatency(_ToxicFault):
    """Added latency (and jitter) on every reply through the link."""

    family = FaultFamily.NETWORK

    @property
    def hangs(self) -> bool:
        return True

    def __init__(
        self,
        runtime: FaultRuntime,
        link: str,
        latency_ms: int,
        *,
        jitter_ms: int = 0,
        toxicity: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, link, lease_s=lease_s)
        if latency_ms <= 0 or jitter_ms < 0 or jitter_ms > latency_ms:
            raise FaultError(
                f"expected 0 < latency_ms and 0 <= jitter_ms <= latency_ms, saw latency "
                f"{latency_ms} ms, jitter {jitter_ms} ms"
            )
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.toxicity = toxicity
        self._baseline: list[float] = []

    @property
    def name(self) -> str:
        return f"latency:{self.link}:{self.latency_ms}ms"

    def toxic(self) -> Toxic:
        return Toxic(
            self.toxic_name,
            ToxicKind.LATENCY,
            Direction.DOWNSTREAM,
            {"latency": self.latency_ms, "jitter": self.jitter_ms},
            self.toxicity,
        )

    def prepare(self) -> None:
        self._baseline = round_trips(self.runtime, self.link)

    def measure(self) -> LandedEvidence:
        during = round_trips(
            self.runtime, self.link, JITTERED_SAMPLES if self.jitter_ms else SAMPLES
        )
        base_ms, during_ms = measure.median_ms(self._baseline), measure.median_ms(during)
        added = during_ms - base_ms
        spread = measure.spread_ms(during)
        detail = (
            f"median round trip through {self.link} {base_ms:.1f} ms before, {during_ms:.1f} ms "
            f"during (+{added:.1f} ms for {self.latency_ms} ms asked; spread {spread:.1f} ms "
            f"for ±{self.jitter_ms} ms jitter, {len(during)} samples)"
        )
        if added < LATENCY_LANDED_RATIO * self.latency_ms:
            raise FaultDidNotLand(
                f"expected at least {LATENCY_LANDED_RATIO:.0%} of the asked latency added, saw "
                f"{detail}; the toxic is not on the path the probe takes (toxicity "
                f"{self.toxicity}?)"
            )
        if self.jitter_ms and spread < JITTER_LANDED_RATIO * self.jitter_ms:
            raise FaultDidNotLand(f"expected jitter in the round trips, saw {detail}")
        return LandedEvidence(self.name, added, "ms added", detail)


class LinkBandwidth(_ToxicFault):
    """A bandwidth cap (KB/s) on replies through a DB or Redis link."""

    family = FaultFamily.NETWORK

    @property
    def hangs(self) -> bool:
        return True

    def __init__(
        self, runtime: FaultRuntime, link: str, rate_kbps: int, *, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        super().__init__(runtime, link, lease_s=lease_s)
        if link not in ("db", "db-ro", "redis"):
            raise FaultError(
                f"expected a link whose throughput can be measured (db, db-ro, redis), saw {link!r}"
            )
        if rate_kbps <= 0:
            raise FaultError(f"expected a positive rate in KB/s, saw {rate_kbps}")
        self.rate_kbps = rate_kbps
        self._size = max(20_000, rate_kbps * 1000)  # about one second's worth at the cap
        self._baseline_kbps = 0.0

    @property
    def name(self) -> str:
        return f"bandwidth:{self.link}:{self.rate_kbps}KBps"

    def toxic(self) -> Toxic:
        return Toxic(
            self.toxic_name, ToxicKind.BANDWIDTH, Direction.DOWNSTREAM, {"rate": self.rate_kbps}
        )

    def _throughput_kbps(self) -> float:
        address = _listen(self.runtime, self.link)
        if self.link == "redis":
            seconds = statistics.median(
                measure.samples_or_fault(
                    lambda: [measure.redis_reply_seconds(address, self._size)], "ECHO"
                )
            )
        else:
            seconds = measure.db_reply_seconds(self.platform.endpoints(), address, self._size)
        return self._size / 1000.0 / max(seconds, 1e-6)

    def prepare(self) -> None:
        self._baseline_kbps = self._throughput_kbps()

    def measure(self) -> LandedEvidence:
        during = self._throughput_kbps()
        detail = (
            f"a {self._size} B reply through {self.link}: {self._baseline_kbps:.0f} KB/s before, "
            f"{during:.0f} KB/s during, cap {self.rate_kbps} KB/s"
        )
        if during > BANDWIDTH_TOLERANCE * self.rate_kbps or during > self._baseline_kbps / 2:
            raise FaultDidNotLand(
                f"expected throughput at most {BANDWIDTH_TOLERANCE} x the cap and well below "
                f"the baseline, saw {detail}; ask for a cap below the link's normal throughput"
            )
        return LandedEvidence(self.name, during, "KB/s", detail)


class LinkReset(_ToxicFault):
    """Connections through the link are reset (TCP RST) ``after_ms`` after the first bytes."""

    family = FaultFamily.NETWORK

    def __init__(
        self,
        runtime: FaultRuntime,
        link: str,
        *,
        after_ms: int = 0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, link, lease_s=lease_s)
        self.after_ms = after_ms

    @property
    def name(self) -> str:
        return f"reset:{self.link}"

    def toxic(self) -> Toxic:
        return Toxic(
            self.toxic_name, ToxicKind.RESET_PEER, Direction.UPSTREAM, {"timeout": self.after_ms}
        )

    def measure(self) -> LandedEvidence:
        address = _listen(self.runtime, self.link)
        payload = first_bytes(self.link)
        resets = sum(measure.reset_on_first_bytes(address, payload) for _ in range(3))
        if resets < 3:
            raise FaultDidNotLand(
                f"expected 3 of 3 connections through {self.link} ({address}) reset, saw "
                f"{resets}; the reset_peer toxic is not acting on new connections"
            )
        return LandedEvidence(
            self.name,
            float(resets),
            "connections reset",
            f"{self.link}: 3 of 3 connections to {address} got a TCP reset on their first bytes",
        )
