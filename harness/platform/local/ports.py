"""Loopback ports for the local platform: picking free ones and proving one is free.

Every daemon binds 127.0.0.1 on a port chosen when the stack comes up, so two runs
(or a developer's own PostgreSQL) never collide.
"""

from __future__ import annotations

import contextlib
import socket

from harness.errors import PortInUse

LOOPBACK = "127.0.0.1"


def pick_free_ports(count: int) -> list[int]:
    """Return ``count`` distinct ports that were free on 127.0.0.1 a moment ago.

    All sockets are held open until every port is chosen so the kernel cannot hand
    the same port out twice.
    """
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            held.append(sock)
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


def port_is_listening(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_port_free(port: int, owner: str) -> None:
    """Raise PortInUse when ``port`` cannot be bound on 127.0.0.1."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise PortInUse(
                f"{owner} needs 127.0.0.1:{port}, but it is already taken ({exc.strerror}). "
                f"Find the holder with `ss -ltnp 'sport = :{port}'` and stop it, "
                "or leave the port out of the topology so the harness picks a free one."
            ) from exc
