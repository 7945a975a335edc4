"""Fixtures: the built-in Toxiproxy server as a subprocess, a client bound to it, an echo server."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import toxiproxy

from harness.toxiproxy import is_ready, toxiproxy_command

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            return


class EchoServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True


@pytest.fixture(scope="session")
def api_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("toxiproxy") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            toxiproxy_command("127.0.0.1", port), cwd=REPO, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 15
            while not is_ready("127.0.0.1", port):
                assert proc.poll() is None, f"server exited early: {log.read_text()}"
                assert time.monotonic() < deadline, f"server not ready: {log.read_text()}"
                time.sleep(0.05)
            yield port
            assert proc.poll() is None, f"server died during the tests: {log.read_text()}"
        finally:
            proc.terminate()
            returncode = proc.wait(timeout=10)
    text = log.read_text()
    assert returncode == 0, f"server exit {returncode}: {text}"
    assert "Traceback" not in text, text
    assert "Exception" not in text, text


@pytest.fixture
def client(api_port: int) -> Iterator[toxiproxy.Toxiproxy]:
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer("127.0.0.1", api_port)
    yield server
    server.destroy_all()
    assert server.proxies() == {}


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
