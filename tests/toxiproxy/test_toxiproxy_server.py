"""The built-in Toxiproxy server, driven as the harness drives it: through
``toxiproxy-python`` for proxies and toxics, raw httpx for the API's error codes, real
TCP through the proxy to an echo server for every toxic's effect."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound

from harness.toxiproxy import is_ready, toxiproxy_command
from harness.toxiproxy.server import VERSION

PAYLOAD = b"ping-" * 8


def _port(proxy: toxiproxy.Proxy) -> int:
    return int(str(proxy.listen).rsplit(":", 1)[1])


@contextmanager
def connected(port: int, timeout: float = 5.0) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        yield sock
    finally:
        sock.close()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def round_trip(sock: socket.socket, payload: bytes = PAYLOAD) -> float:
    start = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - start


def make_proxy(client: toxiproxy.Toxiproxy, name: str, upstream_port: int) -> toxiproxy.Proxy:
    return client.create(upstream=f"127.0.0.1:{upstream_port}", name=name)


def test_launch_command_and_readiness(api_port: int, client: toxiproxy.Toxiproxy) -> None:
    assert toxiproxy_command("127.0.0.1", 9) == [
        sys.executable,
        "-m",
        "harness.toxiproxy",
        "--host",
        "127.0.0.1",
        "--port",
        "9",
    ]
    assert is_ready("127.0.0.1", api_port)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        assert not is_ready("127.0.0.1", unused.getsockname()[1])
    assert httpx.get(f"http://127.0.0.1:{api_port}/version").json() == {"version": VERSION}
    assert client.running()


def test_proxy_crud(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "crud", echo_port)
    assert proxy.enabled is True
    assert proxy.upstream == f"127.0.0.1:{echo_port}"
    assert proxy.listen.startswith("127.0.0.1:")
    assert _port(proxy) > 0
    listed = client.get_proxy("crud")
    assert listed is not None
    assert listed.listen == proxy.listen
    with connected(_port(proxy)) as sock:
        round_trip(sock)
    assert proxy.destroy()
    assert client.get_proxy("crud") is None
    with pytest.raises(NotFound):
        proxy.destroy()


def test_disable_cuts_live_connections_and_refuses_new(
    client: toxiproxy.Toxiproxy, echo_port: int
) -> None:
    proxy = make_proxy(client, "cut", echo_port)
    port = _port(proxy)
    with connected(port) as live:
        round_trip(live)
        proxy.disable()
        assert client.get_proxy("cut").enabled is False
        try:
            cut = live.recv(16) == b""
        except ConnectionResetError:
            cut = True
        assert cut, "a live connection must be closed when its proxy is disabled"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    proxy.enable()
    assert client.get_proxy("cut").listen == proxy.listen  # same port again
    with connected(port) as again:
        round_trip(again)


def test_down_context_manager_is_a_partition(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "partition", echo_port)
    with proxy.down(), pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", _port(proxy)), timeout=2).close()
    with connected(_port(proxy)) as sock:
        round_trip(sock)


def test_reset_reenables_and_removes_toxics(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "reset", echo_port)
    proxy.add_toxic(type="latency", attributes={"latency": 500})
    proxy.disable()
    assert client.reset()
    again = client.get_proxy("reset")
    assert again.enabled is True
    assert again.toxics() == {}
    with connected(_port(proxy)) as sock:
        assert round_trip(sock) < 0.25


def test_latency_applies_to_new_and_live_connections(
    client: toxiproxy.Toxiproxy, echo_port: int
) -> None:
    proxy = make_proxy(client, "latency", echo_port)
    with connected(_port(proxy)) as live:
        assert round_trip(live) < 0.1
        proxy.add_toxic(type="latency", attributes={"latency": 120, "jitter": 10})
        toxic = proxy.get_toxic("latency_downstream")
        assert toxic is not None
        assert (toxic.stream, toxic.toxicity) == ("downstream", 1.0)
        assert toxic.attributes == {"latency": 120, "jitter": 10}
        assert round_trip(live) >= 0.110
        with connected(_port(proxy)) as fresh:
            assert round_trip(fresh) >= 0.110
        proxy.destroy_toxic("latency_downstream")
        assert round_trip(live) < 0.1


def test_upstream_and_downstream_latency_add_up(
    client: toxiproxy.Toxiproxy, echo_port: int
) -> None:
    proxy = make_proxy(client, "both_ways", echo_port)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
    with connected(_port(proxy)) as sock:
        upstream_only = round_trip(sock)
        proxy.add_toxic(type="latency", stream="downstream", attributes={"latency": 100})
        both = round_trip(sock)
    assert 0.1 <= upstream_only < 0.19
    assert both >= 0.2
    assert set(proxy.toxics()) == {"latency_upstream", "latency_downstream"}


def test_toxicity_zero_has_no_effect(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "harmless", echo_port)
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 300})
    with connected(_port(proxy)) as sock:
        assert max(round_trip(sock) for _ in range(5)) < 0.1


def test_bandwidth_caps_throughput(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "narrow", echo_port)
    proxy.add_toxic(type="bandwidth", attributes={"rate": 200})  # 200 KB/s downstream
    payload = b"b" * 100_000
    with connected(_port(proxy), timeout=10) as sock:
        start = time.perf_counter()
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        elapsed = time.perf_counter() - start
    assert 0.45 <= elapsed < 1.5, f"100 KB at 200 KB/s took {elapsed:.3f} s"


def test_timeout_stalls_then_closes(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "stall", echo_port)
    proxy.add_toxic(type="timeout", attributes={"timeout": 400})
    with connected(_port(proxy)) as sock:
        start = time.perf_counter()
        sock.sendall(PAYLOAD)
        assert sock.recv(64) == b"", "data must be dropped and the stream closed"
        assert time.perf_counter() - start >= 0.35


def test_timeout_zero_holds_until_removed(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "hold", echo_port)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with connected(_port(proxy)) as sock:
        sock.settimeout(0.5)
        sock.sendall(PAYLOAD)
        with pytest.raises(TimeoutError):
            sock.recv(64)
        # Toxiproxy's timeout cleanup closes the connections it held.
        proxy.destroy_toxic("timeout_downstream")
        sock.settimeout(5)
        assert sock.recv(64) == b""


def test_reset_peer_resets(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "rst", echo_port)
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 150})
    with connected(_port(proxy)) as sock:
        start = time.perf_counter()
        sock.sendall(PAYLOAD)
        with pytest.raises(ConnectionResetError):
            sock.recv(64)
        assert time.perf_counter() - start >= 0.14


def test_slicer_splits_into_small_segments(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "slices", echo_port)
    proxy.add_toxic(
        type="slicer", attributes={"average_size": 10, "size_variation": 0, "delay": 20_000}
    )
    payload = bytes(range(100))
    sizes = []
    received = b""
    with connected(_port(proxy)) as sock:
        sock.sendall(payload)
        while len(received) < len(payload):
            chunk = sock.recv(4096)
            assert chunk
            sizes.append(len(chunk))
            received += chunk
    assert received == payload
    assert max(sizes) <= 20, sizes
    assert len(sizes) >= 5, sizes


def test_limit_data_closes_after_n_bytes(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "limited", echo_port)
    proxy.add_toxic(type="limit_data", attributes={"bytes": 25})
    with connected(_port(proxy)) as sock:
        sock.sendall(PAYLOAD)
        received = recv_exactly(sock, len(PAYLOAD))
    assert received == PAYLOAD[:25]


def test_slow_close_delays_the_close(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "lingering", echo_port)

    def close_delay() -> float:
        with connected(_port(proxy)) as sock:
            round_trip(sock)
            start = time.perf_counter()
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(64) == b""
            return time.perf_counter() - start

    assert close_delay() < 0.1
    proxy.add_toxic(type="slow_close", attributes={"delay": 300})
    assert close_delay() >= 0.29


def test_toxic_update_changes_live_behaviour(api_port: int, echo_port: int) -> None:
    base = f"http://127.0.0.1:{api_port}"
    with httpx.Client(base_url=base) as http:
        created = http.post(
            "/proxies", json={"name": "updated", "upstream": f"127.0.0.1:{echo_port}"}
        )
        port = int(created.json()["listen"].rsplit(":", 1)[1])
        http.post(
            "/proxies/updated/toxics", json={"type": "latency", "attributes": {"latency": 50}}
        )
        with connected(port) as sock:
            assert round_trip(sock) >= 0.045
            changed = http.post(
                "/proxies/updated/toxics/latency_downstream",
                json={"attributes": {"latency": 200}},
            )
            assert changed.status_code == 200
            assert changed.json()["attributes"] == {"latency": 200, "jitter": 0}
            assert round_trip(sock) >= 0.19
        assert http.delete("/proxies/updated").status_code == 204


def test_api_error_codes(api_port: int, echo_port: int) -> None:
    upstream = f"127.0.0.1:{echo_port}"
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}") as http:
        created = http.post("/proxies", json={"name": "codes", "upstream": upstream})
        assert created.status_code == 201
        assert created.json()["toxics"] == []

        def error(response: httpx.Response, status: int, prefix: str) -> None:
            assert response.status_code == status, response.text
            body = response.json()
            assert body["status"] == status
            assert body["error"].startswith(prefix), body

        error(
            http.post("/proxies", json={"name": "codes", "upstream": upstream}),
            409,
            "proxy already exists",
        )
        error(http.post("/proxies", json={"name": "x"}), 400, "missing required field: upstream")
        error(
            http.post("/proxies", json={"upstream": upstream}), 400, "missing required field: name"
        )
        error(http.post("/proxies", content=b"{nope"), 400, "bad request body")
        error(http.get("/proxies/ghost"), 404, "proxy not found")
        error(http.delete("/proxies/ghost"), 404, "proxy not found")
        error(http.get("/proxies/ghost/toxics"), 404, "proxy not found")
        error(http.get("/proxies/codes/toxics/ghost"), 404, "toxic not found")
        error(http.delete("/proxies/codes/toxics/ghost"), 404, "toxic not found")
        error(http.post("/proxies/codes/toxics", json={"type": "nope"}), 400, "invalid toxic type")
        error(
            http.post("/proxies/codes/toxics", json={"type": "latency", "stream": "sideways"}),
            400,
            "stream was invalid",
        )
        error(
            http.post("/proxies/codes/toxics", json={"type": "latency", "toxicity": 2}),
            400,
            "invalid toxicity",
        )
        error(
            http.post(
                "/proxies/codes/toxics", json={"type": "latency", "attributes": {"latency": "1s"}}
            ),
            400,
            "bad request body",
        )
        toxic = http.post("/proxies/codes/toxics", json={"type": "latency"})
        assert toxic.status_code == 200
        assert toxic.json() == {
            "attributes": {"latency": 0, "jitter": 0},
            "name": "latency_downstream",
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1.0,
        }
        error(
            http.post("/proxies/codes/toxics", json={"type": "latency"}),
            409,
            "toxic already exists",
        )
        assert http.delete("/proxies/codes/toxics/latency_downstream").status_code == 204
        browser = http.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
        assert browser.status_code == 403
        error(http.put("/proxies/codes"), 405, "method not allowed")
        error(http.get("/nowhere"), 404, "not found")
        assert http.delete("/proxies/codes").status_code == 204


def test_client_maps_error_codes(client: toxiproxy.Toxiproxy, echo_port: int) -> None:
    proxy = make_proxy(client, "client_errors", echo_port)
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("ghost")


def test_update_and_populate(api_port: int, echo_port: int) -> None:
    upstream = f"127.0.0.1:{echo_port}"
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}") as http:
        first = http.post("/populate", json=[{"name": "pop", "upstream": upstream}])
        assert first.status_code == 201
        (proxy,) = first.json()["proxies"]
        same = http.post(
            "/populate", json=[{"name": "pop", "upstream": upstream, "listen": proxy["listen"]}]
        )
        assert same.json()["proxies"][0]["listen"] == proxy["listen"]
        bad = http.post("/populate", json=[{"name": "pop2"}])
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("missing required field: upstream at proxy 1")

        disabled = http.patch("/proxies/pop", json={"enabled": False})
        assert disabled.status_code == 200
        assert disabled.json()["enabled"] is False
        moved = http.post("/proxies/pop", json={"enabled": True, "listen": "127.0.0.1:0"})
        assert moved.status_code == 200
        new_listen = moved.json()["listen"]
        assert moved.json()["enabled"] is True
        assert new_listen != "127.0.0.1:0"
        with connected(int(new_listen.rsplit(":", 1)[1])) as sock:
            round_trip(sock)
        assert http.delete("/proxies/pop").status_code == 204
