"""``python -m harness.toxiproxy --host 127.0.0.1 --port N``: run the built-in server.

Runs until SIGTERM or SIGINT, then closes every proxy listener and live connection
so nothing it opened outlives it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from harness.toxiproxy.server import VERSION, ApiServer, ToxiproxyApi


async def _serve(host: str, port: int) -> None:
    server = ApiServer(ToxiproxyApi())
    try:
        bound_host, bound_port = await server.start(host, port)
    except OSError as exc:
        print(
            f"toxiproxy: cannot listen on {host}:{port}: {exc.strerror or exc}; choose a free port",
            file=sys.stderr,
        )
        raise SystemExit(3) from None
    print(f"toxiproxy {VERSION} API listening on {bound_host}:{bound_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m harness.toxiproxy",
        description="Toxiproxy-compatible TCP fault proxy with its HTTP API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474)")
    args = parser.parse_args(argv)
    try:
        import uvloop  # noqa: PLC0415 (optional: the server runs on plain asyncio too)
    except ImportError:
        asyncio.run(_serve(args.host, args.port))
    else:
        # libuv's loop forwards a chunk in a fraction of the pure-Python loop's CPU time,
        # which is what keeps the proxy's overhead small next to PostgreSQL's (bench/).
        uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
