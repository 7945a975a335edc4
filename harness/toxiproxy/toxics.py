"""Toxics of the built-in Toxiproxy server: their API form and their per-connection effect.

A ``ToxicSpec`` is what the API stores and shows: name, type, stream, toxicity and
typed attributes, parsed from and rendered to exactly the JSON the real
``toxiproxy-server`` uses. A ``Stage`` is one toxic attached to one direction of one
live connection: it decides once, when attached, whether it is active (toxicity is
rolled per connection, as Toxiproxy does), and transforms the chunks of that direction
through the small ``StreamControl`` seam the forwarding code provides.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Protocol

from harness.toxiproxy.errors import ToxiproxyApiError, bad_body


class ToxicType(enum.Enum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    SLOW_CLOSE = "slow_close"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"


class Stream(enum.Enum):
    """``upstream`` is client to server, ``downstream`` server to client."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


@dataclass(frozen=True)
class Latency:
    latency: int = 0
    """Milliseconds added to every chunk."""
    jitter: int = 0
    """Milliseconds; each chunk gets latency + uniform[-jitter, jitter)."""


@dataclass(frozen=True)
class Bandwidth:
    rate: int = 0
    """KB/s (1 KB = 1000 bytes); 0 delivers nothing, as Toxiproxy's loop does."""


@dataclass(frozen=True)
class SlowClose:
    delay: int = 0
    """Milliseconds between the source's close and the close passed on."""


@dataclass(frozen=True)
class Timeout:
    timeout: int = 0
    """Milliseconds without data before the stream is closed; 0 holds it forever."""


@dataclass(frozen=True)
class ResetPeer:
    timeout: int = 0
    """Milliseconds after the first data before the connection is reset (RST)."""


@dataclass(frozen=True)
class Slicer:
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0
    """Microseconds between slices."""


@dataclass(frozen=True)
class LimitData:
    bytes: int = 0
    """Bytes let through before the stream is closed."""


Attributes = Latency | Bandwidth | SlowClose | Timeout | ResetPeer | Slicer | LimitData

_ATTRIBUTE_CLASSES: dict[ToxicType, type[Attributes]] = {
    ToxicType.LATENCY: Latency,
    ToxicType.BANDWIDTH: Bandwidth,
    ToxicType.SLOW_CLOSE: SlowClose,
    ToxicType.TIMEOUT: Timeout,
    ToxicType.RESET_PEER: ResetPeer,
    ToxicType.SLICER: Slicer,
    ToxicType.LIMIT_DATA: LimitData,
}


@dataclass(frozen=True)
class ToxicSpec:
    name: str
    type: ToxicType
    stream: Stream
    toxicity: float
    attributes: Attributes

    def to_json(self) -> dict[str, object]:
        attrs = {f.name: getattr(self.attributes, f.name) for f in fields(self.attributes)}
        return {
            "attributes": attrs,
            "name": self.name,
            "type": self.type.value,
            "stream": self.stream.value,
            "toxicity": self.toxicity,
        }


def _int_field(key: str, value: object) -> int:
    # Toxiproxy decodes attributes into Go int64 fields: fractions, strings and booleans
    # are decode errors there, so they are here.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_body(f"attribute {key!r} must be an integer, got {value!r}; send a whole number")
    return value


def _toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_body(f"toxicity must be a number, got {value!r}; send a value in 0..1")
    if not 0.0 <= float(value) <= 1.0:
        raise ToxiproxyApiError(
            400, f"invalid toxicity: expected a value in 0..1, got {value!r}; send 0..1"
        )
    return float(value)


def _merge_attributes(base: Attributes, raw: object) -> Attributes:
    """Overlay the JSON ``attributes`` object on ``base``; unknown keys are ignored."""
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise bad_body(f"attributes must be a JSON object, got {raw!r}")
    known = {f.name for f in fields(base)}
    changes = {
        key: _int_field(key, value)
        for key, value in raw.items()
        if key in known and value is not None
    }
    values: dict[str, int] = {f.name: getattr(base, f.name) for f in fields(base)}
    merged = type(base)(**(values | changes))
    if isinstance(merged, Slicer) and not 0 <= merged.size_variation < merged.average_size:
        # Toxiproxy's slicer recurses forever (and crashes) outside these bounds.
        raise ToxiproxyApiError(
            400,
            "invalid slicer attributes: expected average_size >= 1 and "
            f"0 <= size_variation < average_size, got average_size={merged.average_size} "
            f"size_variation={merged.size_variation}; fix the attributes",
        )
    return merged


def parse_new_toxic(body: object) -> ToxicSpec:
    """The toxic a ``POST /proxies/{proxy}/toxics`` body asks for, with Toxiproxy's defaults."""
    if not isinstance(body, Mapping):
        raise bad_body(f"expected a JSON object describing a toxic, got {body!r}")
    stream_raw = body.get("stream", "downstream")
    if stream_raw is None:
        stream_raw = "downstream"
    stream_value = stream_raw.lower() if isinstance(stream_raw, str) else stream_raw
    try:
        stream = Stream(stream_value)
    except ValueError:
        raise ToxiproxyApiError(
            400,
            f"stream was invalid, can be either upstream or downstream; got {stream_raw!r}",
        ) from None
    type_raw = body.get("type", "")
    try:
        toxic_type = ToxicType(type_raw)
    except ValueError:
        known = ", ".join(t.value for t in ToxicType)
        raise ToxiproxyApiError(
            400, f"invalid toxic type: got {type_raw!r}; expected one of {known}"
        ) from None
    name = body.get("name") or f"{toxic_type.value}_{stream.value}"
    if not isinstance(name, str):
        raise bad_body(f"name must be a string, got {name!r}")
    toxicity_raw = body.get("toxicity", 1.0)
    toxicity = 1.0 if toxicity_raw is None else _toxicity(toxicity_raw)
    attributes = _merge_attributes(_ATTRIBUTE_CLASSES[toxic_type](), body.get("attributes"))
    return ToxicSpec(name, toxic_type, stream, toxicity, attributes)


def parse_toxic_update(current: ToxicSpec, body: object) -> ToxicSpec:
    """``current`` with the attributes and toxicity of an update body laid over it."""
    if not isinstance(body, Mapping):
        raise bad_body(f"expected a JSON object with attributes/toxicity, got {body!r}")
    toxicity_raw = body.get("toxicity")
    toxicity = current.toxicity if toxicity_raw is None else _toxicity(toxicity_raw)
    attributes = _merge_attributes(current.attributes, body.get("attributes"))
    return replace(current, toxicity=toxicity, attributes=attributes)


@dataclass
class Chunk:
    data: bytes
    stamp: float
    """Monotonic seconds when the chunk was read (moved on by latency, as Toxiproxy does)."""


class EndOfStream:
    """Yielded by a stage that closes its stream: later stages see an end of stream."""


END = EndOfStream()


class StreamControl(Protocol):
    """What a stage may do to the direction of the connection it is attached to."""

    def now(self) -> float: ...

    async def sleep(self, stage: Stage, seconds: float) -> bool:
        """Sleep; False when the stage was detached meanwhile (it should pass data on)."""
        ...

    def close_stream(self) -> None:
        """Close this direction now (timer-driven closes, outside the chunk flow)."""
        ...

    def reset_connection(self) -> None:
        """Close both sockets of the connection with RST (SO_LINGER 0)."""
        ...


class Stage:
    """One toxic on one direction of one connection, with its per-connection state."""

    def __init__(self, spec: ToxicSpec, control: StreamControl, rng: random.Random) -> None:
        self.spec = spec
        self.control = control
        self.rng = rng
        self.detached = False
        self.active = False
        self.bytes_sent = 0
        self._next_free = 0.0
        self._timer: _Timer | None = None
        self.activate(spec)

    def activate(self, spec: ToxicSpec) -> None:
        """(Re)start with ``spec``: a fresh toxicity roll, as a restarted Toxiproxy stub does."""
        self.spec = spec
        self.active = self.rng.random() < spec.toxicity
        self._arm_timeout()

    def detach(self) -> None:
        self.detached = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm_timeout(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        attrs = self.spec.attributes
        if self.active and not self.detached and isinstance(attrs, Timeout) and attrs.timeout > 0:
            self._timer = _Timer(self.control, attrs.timeout / 1000.0)

    async def process(self, chunk: Chunk) -> AsyncGenerator[Chunk | EndOfStream, None]:
        attrs = self.spec.attributes
        control = self.control
        if isinstance(attrs, Latency):
            delay = attrs.latency
            if attrs.jitter > 0:
                delay += self.rng.randrange(2 * attrs.jitter) - attrs.jitter
            wait = chunk.stamp + delay / 1000.0 - control.now()
            await control.sleep(self, wait)
            chunk.stamp = control.now()
            yield chunk
        elif isinstance(attrs, Bandwidth):
            async for piece in self._throttle(chunk, attrs.rate):
                yield piece
        elif isinstance(attrs, Slicer):
            data = chunk.data
            bounds = _slice_bounds(attrs, 0, len(data), self.rng)
            for start, end in zip(bounds[::2], bounds[1::2], strict=True):
                yield Chunk(data[start:end], chunk.stamp)
                if not await control.sleep(self, attrs.delay / 1_000_000.0):
                    if end < len(data):
                        yield Chunk(data[end:], chunk.stamp)
                    return
        elif isinstance(attrs, LimitData):
            remaining = max(attrs.bytes - self.bytes_sent, 0)
            if remaining < len(chunk.data):
                chunk = Chunk(chunk.data[:remaining], chunk.stamp)
            if chunk.data:
                self.bytes_sent += len(chunk.data)
                yield chunk
            if attrs.bytes - self.bytes_sent <= 0:
                yield END
        elif isinstance(attrs, Timeout):
            # Data is dropped; each chunk restarts the clock, as Toxiproxy's select does.
            self._arm_timeout()
        elif isinstance(attrs, ResetPeer):
            await control.sleep(self, attrs.timeout / 1000.0)
            control.reset_connection()
        else:  # SlowClose passes data untouched
            yield chunk

    async def _throttle(self, chunk: Chunk, rate: int) -> AsyncGenerator[Chunk, None]:
        control = self.control
        if rate <= 0:
            # Toxiproxy loops on empty writes forever: nothing gets through.
            await control.sleep(self, float("inf"))
            yield chunk
            return
        piece_size = rate * 100  # Toxiproxy sends 100 ms worth of bytes at a time
        data = chunk.data
        for start in range(0, len(data), piece_size):
            piece = data[start : start + piece_size]
            self._next_free = max(self._next_free, control.now()) + len(piece) / (rate * 1000.0)
            if not await control.sleep(self, self._next_free - control.now()):
                yield Chunk(data[start:], chunk.stamp)
                return
            yield Chunk(piece, chunk.stamp)

    async def on_end(self) -> None:
        """Run when the source closed: slow_close and reset_peer act on that too."""
        attrs = self.spec.attributes
        if isinstance(attrs, SlowClose):
            await self.control.sleep(self, attrs.delay / 1000.0)
        elif isinstance(attrs, ResetPeer):
            await self.control.sleep(self, attrs.timeout / 1000.0)
            self.control.reset_connection()


class _Timer:
    """A cancellable one-shot that closes the stream (the timeout toxic's clock)."""

    def __init__(self, control: StreamControl, seconds: float) -> None:
        self._handle = asyncio.get_running_loop().call_later(seconds, control.close_stream)

    def cancel(self) -> None:
        self._handle.cancel()


def _slice_bounds(attrs: Slicer, start: int, end: int, rng: random.Random) -> list[int]:
    """Toxiproxy's slicer split: halve (with variation) until a piece is near the average."""
    if (end - start) - attrs.average_size <= attrs.size_variation:
        return [start, end]
    mid = start + (end - start) // 2
    if attrs.size_variation > 0:
        mid += rng.randrange(2 * attrs.size_variation) - attrs.size_variation
    return _slice_bounds(attrs, start, mid, rng) + _slice_bounds(attrs, mid, end, rng)
