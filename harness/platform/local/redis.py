"""The sessions/cache tier of the local platform: one ``redis-server`` and a tiny RESP client.

The config is generated per run: loopback only, no persistence by default (sessions
are disposable and a restart fault should behave like a cache loss), no daemonizing
(the harness owns the process). There is no Redis client library in the harness's
dependencies, so readiness and tests speak RESP over a raw socket.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import BinaryIO

from harness.errors import PlatformError
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.process import (
    require_binary,
)

START_TIMEOUT_S = 20.0

RespValue = str | int | bytes | None | list["RespValue"]


class RespError(PlatformError):
    """Redis answered a command with an error reply (or not in RESP at all)."""


def _encode(args: tuple[str | bytes, ...]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _read_reply(stream: BinaryIO) -> RespValue:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise RespError(f"expected a RESP reply line ending in CRLF, got {line!r}")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode()
    if kind == b"-":
        raise RespError(f"redis replied with an error: {body.decode(errors='replace')}")
    if kind == b":":
        return int(body)
    if kind == b"$":
        size = int(body)
        if size < 0:
            return None
        return stream.read(size + 2)[:-2]
    if kind == b"*":
        count = int(body)
        if count < 0:
            return None
        return [_read_reply(stream) for _ in range(count)]
    raise RespError(f"expected a RESP type byte (+ - : $ *), got {line!r}")


def redis_command(
    port: int, *args: str | bytes, timeout_s: float = 2.0, host: str = LOOPBACK
) -> RespValue:
    """Send one command to ``host:port`` and return the decoded reply.

    Raises RespError on an error reply and OSError when Redis cannot be reached.
    """
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(_encode(args))
        with sock.makefile("rb") as stream:
            return _read_reply(stream)


class Redis(Daemon):
    """``redis-server`` bound to 127.0.0.1:``port``, data in its own data dir."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        port: int,
        *,
        name: str = "redis",
        persistence: bool = False,
    ) -> None:
        super().__init__(ctx, node, name)
        self.port = port
        self._persistence = persistence
        self._data = ctx.data_dir(name, mode=0o700)

    def _write_config(self) -> Path:
        persistence = (
            "save 60 1\nappendonly yes\nappendfsync everysec\n"
            if self._persistence
            else 'save ""\nappendonly no\n'
        )
        path = self._data / "redis.conf"
        path.write_text(
            f"bind {LOOPBACK}\n"
            f"port {self.port}\n"
            # No password on purpose (loopback only, disposable data); protected mode
            # would then refuse clients that reach Redis through Toxiproxy's address.
            "protected-mode no\n"
            "daemonize no\n"
            f"dir {self._data}\n"
            'logfile ""\n'
            f"{persistence}"
        )
        return path

    def start(self) -> None:
        binary = require_binary("redis-server", "install it with `apt-get install redis-server`.")
        self._launch(
            [binary, str(self._write_config())],
            ready=self.healthy,
            what="PING answered with PONG",
            timeout_s=START_TIMEOUT_S,
            cwd=self._data,
        )

    def healthy(self) -> bool:
        try:
            return redis_command(self.port, "PING", timeout_s=1.0) == "PONG"
        except (OSError, RespError):
            return False
