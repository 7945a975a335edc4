"""TCP forwarding of the built-in Toxiproxy server: one ``Proxy`` per API proxy.

A proxy owns its listener and its live connections. Each connection is two sockets
(client side, upstream side) and two ``Pipe``s, one per direction. A pipe with no toxic
is a straight hand-off: the source protocol's sink *is* the destination transport's
``write``, so an untoxic byte costs one read, one call and one write. Attaching a
toxic swaps in a queue and a pump task that runs each chunk through the toxic stages
in order; when the last toxic goes and the queue drains, the
pipe drops back to the hand-off. Toxics added or removed through the API act on live
connections too, as Toxiproxy's do (the harness relies on that for pooled DB links).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar, cast

from harness.toxiproxy.errors import ToxiproxyApiError, not_found_toxic
from harness.toxiproxy.toxics import (
    Chunk,
    EndOfStream,
    Stage,
    Stream,
    ToxicSpec,
    ToxicType,
)

# A pipe whose stages hold data back (bandwidth, latency) stops reading its source past
# this many queued bytes, so a slow toxic pushes back on the sender instead of buffering.
_QUEUE_PAUSE_BYTES = 1 << 20
_LINGER_RST = struct.pack("ii", 1, 0)
_T = TypeVar("_T")


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as Toxiproxy's ``listen``/``upstream`` fields use."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ToxiproxyApiError(
            400, f"invalid address: expected host:port, got {address!r}; e.g. 127.0.0.1:5432"
        )
    host = host.strip("[]")
    return host, int(port_text)


def _format_address(sockname: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _discard(_data: bytes) -> None:
    """Where a finished pipe's late bytes go."""


class _Done(Exception):
    """Unwinds a pump whose pipe was closed meanwhile."""


class _Side(asyncio.Protocol):
    """The protocol of one socket of a proxied connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.source_of: Pipe | None = None
        self.dest_of: Pipe | None = None
        self.lost = False
        self.saw_eof = False
        self.sink: Callable[[bytes], object] = _discard
        """Where read bytes go; set by the pipe this side is the source of (Pipe.route)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.sink(data)

    def eof_received(self) -> bool:
        self.saw_eof = True
        if self.source_of is not None:
            self.source_of.feed_eof()
        # Keep the socket open: the other direction may still be delivering to it.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.conn.side_lost(self)

    def pause_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_paused()

    def resume_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_resumed()


class _ClientSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        # Toxiproxy dials upstream before it reads the client. Pausing is a hint (uvloop
        # starts reading after connection_made regardless), so early bytes are also kept.
        self.transport.pause_reading()
        self.early: list[bytes] = []
        self.sink = self.early.append
        self.conn.accepted()


class Pipe:
    """One direction of one connection: source bytes through the stages into the dest."""

    def __init__(self, conn: Connection, stream: Stream, src: _Side, dst: _Side) -> None:
        self.conn = conn
        self.stream = stream
        self.src = src
        self.dst = dst
        src.source_of = self
        dst.dest_of = self
        self.stages: list[Stage] = []
        self.queue: deque[Chunk | None] = deque()
        self.queued = 0
        self.pump: asyncio.Task[None] | None = None
        self.eof = False
        self.done = False
        self._wakeup: asyncio.Future[None] | None = None
        self._sleeper: tuple[Stage, asyncio.Future[bool]] | None = None
        self._dst_blocked = False
        self._writable: asyncio.Future[None] | None = None
        self._held_by_queue = False
        self._held_by_dst = False

    # -- routing -----------------------------------------------------------------------

    def route(self) -> None:
        """Point the source's sink at the cheapest correct one."""
        sink: Callable[[bytes], object]
        if self.done:
            sink = _discard
        elif not self.stages and self.pump is None:
            assert self.dst.transport is not None
            sink = self.dst.transport.write
        else:
            sink = self.feed
        self.src.sink = sink

    def feed(self, data: bytes) -> None:
        self.queue.append(Chunk(data, time.monotonic()))
        self.queued += len(data)
        if self.queued > _QUEUE_PAUSE_BYTES and not self._held_by_queue:
            self._held_by_queue = True
            self._sync_source_reading()
        self._wake()

    def feed_eof(self) -> None:
        if self.eof or self.done:
            return
        self.eof = True
        if self.pump is None and not self.stages:
            self.finish()
            return
        self.queue.append(None)
        self._wake()

    # -- toxics ------------------------------------------------------------------------

    def attach(self, spec: ToxicSpec) -> None:
        if self.done:
            return
        self.stages.append(Stage(spec, self, self.conn.proxy.rng))
        self._ensure_pump()
        self.route()

    def update(self, spec: ToxicSpec) -> None:
        for stage in self.stages:
            if stage.spec.name == spec.name:
                stage.activate(spec)
                self._interrupt(stage)

    def detach(self, name: str) -> None:
        for stage in self.stages:
            if stage.spec.name == name:
                stage.detach()
                self.stages.remove(stage)
                self._interrupt(stage)
                self._wake()
                if stage.spec.type is ToxicType.TIMEOUT:
                    # Toxiproxy's timeout Cleanup closes the stream it held.
                    self.finish()
                return

    # -- StreamControl -----------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, stage: Stage, seconds: float) -> bool:
        if stage.detached:
            return False
        if seconds <= 0:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._sleeper = (stage, waiter)
        handle = None
        if seconds != float("inf"):
            handle = loop.call_later(seconds, _resolve, waiter, True)
        try:
            return await waiter
        finally:
            self._sleeper = None
            if handle is not None:
                handle.cancel()

    def close_stream(self) -> None:
        self.finish()

    def reset_connection(self) -> None:
        self.conn.reset()

    # -- the pump ----------------------------------------------------------------------

    def _ensure_pump(self) -> None:
        if self.pump is None and not self.done:
            self.pump = asyncio.get_running_loop().create_task(self._run())

    def _wake(self) -> None:
        self._ensure_pump()
        if self._wakeup is not None:
            _resolve(self._wakeup, None)

    def _interrupt(self, stage: Stage) -> None:
        if self._sleeper is not None and self._sleeper[0] is stage:
            _resolve(self._sleeper[1], False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.done:
                if not self.queue:
                    if not self.stages:
                        return
                    self._wakeup = loop.create_future()
                    await self._wakeup
                    self._wakeup = None
                    continue
                item = self.queue.popleft()
                if item is None:
                    await self._end_from(tuple(self.stages), 0)
                    return
                self.queued -= len(item.data)
                if self._held_by_queue and self.queued <= _QUEUE_PAUSE_BYTES // 2:
                    self._held_by_queue = False
                    self._sync_source_reading()
                await self._feed(item, tuple(self.stages), 0)
        except _Done:
            pass
        finally:
            self._wakeup = None
            if self.pump is asyncio.current_task():
                self.pump = None
            self.route()

    async def _feed(self, chunk: Chunk, chain: tuple[Stage, ...], index: int) -> None:
        for position in range(index, len(chain)):
            stage = chain[position]
            if stage.active and not stage.detached:
                async with contextlib.aclosing(stage.process(chunk)) as pieces:
                    async for piece in pieces:
                        if isinstance(piece, EndOfStream):
                            await self._end_from(chain, position + 1)
                            raise _Done
                        await self._feed(piece, chain, position + 1)
                return
        await self._emit(chunk.data)

    async def _end_from(self, chain: tuple[Stage, ...], index: int) -> None:
        for stage in chain[index:]:
            if stage.active and not stage.detached:
                await stage.on_end()
                if self.done:
                    raise _Done
        self.finish()

    async def _emit(self, data: bytes) -> None:
        while self._dst_blocked and not self.done:
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable
        if self.done:
            raise _Done
        assert self.dst.transport is not None
        self.dst.transport.write(data)

    # -- flow control and closing ----------------------------------------------------------

    def dest_paused(self) -> None:
        self._dst_blocked = True
        self._held_by_dst = True
        self._sync_source_reading()

    def dest_resumed(self) -> None:
        self._dst_blocked = False
        self._held_by_dst = False
        if self._writable is not None:
            _resolve(self._writable, None)
        self._sync_source_reading()

    def _sync_source_reading(self) -> None:
        transport = self.src.transport
        if transport is None or transport.is_closing() or not self.conn.started:
            return
        if self._held_by_queue or self._held_by_dst:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def stop(self) -> None:
        """Mark the pipe finished without touching sockets (the connection handles them)."""
        if self.done:
            return
        self.done = True
        for stage in self.stages:
            stage.detach()
        if self._sleeper is not None:
            _resolve(self._sleeper[1], False)
        if self._writable is not None:
            _resolve(self._writable, None)
        if self.pump is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
        self.route()

    def finish(self) -> None:
        """Close the destination after what was delivered; the other direction then ends."""
        if self.done:
            return
        self.stop()
        if self.dst.transport is not None:
            self.dst.transport.close()
        other = self.conn.pipe_from(self.dst)
        if other is not None:
            other.feed_eof()


def _resolve(future: asyncio.Future[_T], value: _T) -> None:
    if not future.done():
        future.set_result(value)


class Connection:
    """One accepted client and its upstream connection."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.client = _ClientSide(self)
        self.server: _Side | None = None
        self.up: Pipe | None = None
        self.down: Pipe | None = None
        self.started = False
        self.closed = False
        self._connecting: asyncio.Task[None] | None = None

    def accepted(self) -> None:
        self.proxy.connections.add(self)
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.proxy.upstream_address()
        server = _Side(self)
        try:
            await loop.create_connection(lambda: server, host, port)
        except OSError:
            # Toxiproxy logs and closes the client when the upstream cannot be reached.
            self.abort()
            return
        assert server.transport is not None
        assert self.client.transport is not None
        if self.closed:
            server.transport.abort()
            return
        self.server = server
        self.up = Pipe(self, Stream.UPSTREAM, self.client, server)
        self.down = Pipe(self, Stream.DOWNSTREAM, server, self.client)
        self.started = True
        for pipe in (self.up, self.down):
            pipe.route()
        for spec in self.proxy.toxic_chain():
            self.pipe(spec.stream).attach(spec)
        early = b"".join(self.client.early)
        self.client.early.clear()
        if early:
            self.client.sink(early)
        if self.client.saw_eof:
            self.up.feed_eof()
        self.client.transport.resume_reading()

    def pipe(self, stream: Stream) -> Pipe:
        pipe = self.up if stream is Stream.UPSTREAM else self.down
        assert pipe is not None
        return pipe

    def pipes(self) -> tuple[Pipe, ...]:
        return tuple(p for p in (self.up, self.down) if p is not None)

    def pipe_from(self, side: _Side) -> Pipe | None:
        return side.source_of

    def side_lost(self, side: _Side) -> None:
        if side.source_of is not None:
            side.source_of.feed_eof()
        if side.dest_of is not None:
            side.dest_of.finish()
        sides = [self.client] if self.server is None else [self.client, self.server]
        if all(s.lost for s in sides):
            self.closed = True
            self.proxy.connections.discard(self)

    def abort(self) -> None:
        """Close both sockets now, unsent data dropped (a disabled or deleted proxy)."""
        self._close(rst=False)

    def reset(self) -> None:
        """Close both sockets with RST (the reset_peer toxic)."""
        self._close(rst=True)

    def _close(self, *, rst: bool) -> None:
        self.closed = True
        connecting = self._connecting
        if connecting is not None and connecting is not asyncio.current_task():
            connecting.cancel()
        for pipe in self.pipes():
            pipe.stop()
        for side in (self.client, self.server):
            if side is None or side.transport is None:
                continue
            if rst:
                sock = side.transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            side.transport.abort()
        if self.client.transport is None or self.server is None:
            self.proxy.connections.discard(self)


class Proxy:
    """A named listener forwarding to one upstream, with its toxics and live connections."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.rng = rng
        self.toxics: dict[str, ToxicSpec] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    def upstream_address(self) -> tuple[str, int]:
        return split_host_port(self.upstream)

    def toxic_chain(self) -> list[ToxicSpec]:
        """Toxics in Toxiproxy's listing order: the upstream chain, then the downstream one."""
        specs = list(self.toxics.values())
        return [t for t in specs if t.stream is Stream.UPSTREAM] + [
            t for t in specs if t.stream is Stream.DOWNSTREAM
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxic_chain()],
        }

    async def start(self) -> None:
        if self.enabled:
            return
        host, port = split_host_port(self.listen)
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: Connection(self).client,
                host or "127.0.0.1",
                port,
                reuse_address=True,
                backlog=1024,
            )
        except OSError as exc:
            raise ToxiproxyApiError(
                500,
                f"listen tcp {self.listen}: {exc.strerror or exc}; "
                "choose a free port or stop what holds it",
            ) from None
        self._server = server
        self.listen = _format_address(server.sockets[0].getsockname())
        self.enabled = True

    def stop(self) -> None:
        """Close the listener and every live connection (a cut link)."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.abort()

    def add_toxic(self, spec: ToxicSpec) -> None:
        if spec.name in self.toxics:
            raise ToxiproxyApiError(
                409,
                f"toxic already exists: proxy {self.name!r} has a toxic named {spec.name!r}; "
                "delete it first or choose another name",
            )
        self.toxics[spec.name] = spec
        for conn in list(self.connections):
            if conn.started:
                conn.pipe(spec.stream).attach(spec)

    def get_toxic(self, name: str) -> ToxicSpec:
        spec = self.toxics.get(name)
        if spec is None:
            raise not_found_toxic(self.name, name)
        return spec

    def update_toxic(self, spec: ToxicSpec) -> None:
        self.toxics[spec.name] = spec
        for conn in list(self.connections):
            if conn.started:
                conn.pipe(spec.stream).update(spec)

    def remove_toxic(self, name: str) -> None:
        spec = self.get_toxic(name)
        del self.toxics[name]
        for conn in list(self.connections):
            if conn.started:
                conn.pipe(spec.stream).detach(name)

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)
