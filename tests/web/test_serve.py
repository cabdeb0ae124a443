"""`vigil serve` with a separate metrics listener: it serves /metrics only, and the
node still stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.tls_pairs import make as make_pair

from vigil.testing import ServerProcess, free_port, make_node
from vigil.testing.node import PASSPHRASE


def test_metrics_on_a_separate_listener(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    port = free_port()
    srv = ServerProcess(node.data, env={"VIGIL_METRICS_BIND": f"127.0.0.1:{port}"}).start()
    try:
        token = node.members["alpha"].token
        assert httpx.get(f"{srv.url}/api/v1/me",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
        side = f"http://127.0.0.1:{port}"
        r = httpx.get(f"{side}/metrics")
        assert r.status_code == 200
        assert 'route="/api/v1/me"' in r.text
        assert httpx.get(f"{side}/api/v1/me",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 404
        assert httpx.get(f"{srv.url}/metrics").status_code == 404  # no token set
    finally:
        srv.stop()
    # ended by SIGTERM as a plain `vigil serve` is (uvicorn re-raises it), not killed
    assert srv.proc is not None and srv.proc.returncode in (0, -15)


FROZEN = """
import gc, sys
from fastapi.testclient import TestClient
from vigil.config import load_settings
from vigil.web import create_app
app = create_app(load_settings(sys.argv[1]), serving=sys.argv[2] == "serving")
with TestClient(app) as c:
    assert c.get("/healthz").status_code == 200
    print(gc.get_freeze_count())
"""


def test_a_serving_process_leaves_its_startup_heap_out_of_collections(tmp_path: Path) -> None:
    """`vigil serve` freezes what it holds once started (modules, app, node state), so
    that a full collection does not walk it all while shares are being delivered; an
    application in another process's heap (a test's, an embedding program's) does not."""
    node = make_node(tmp_path / "node", {"alpha": True})
    env = {**os.environ, "VIGIL_KEYRING_PASSPHRASE": PASSPHRASE}
    frozen = {}
    for mode in ("serving", "embedded"):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", FROZEN, str(node.data), mode],
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        frozen[mode] = int(out.stdout.split()[-1])
    assert frozen["embedded"] == 0
    assert frozen["serving"] > 10_000  # the modules and the app at least


ARENAS = r"""
import ctypes, ctypes.util, os, sys, threading
from vigil.web.serve import bound_malloc_arenas
bound = int(sys.argv[1])
if bound:
    assert bound_malloc_arenas(bound)
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
gate = threading.Barrier(8)
held = []

def work():
    gate.wait()  # all eight alive at once: each takes an arena of its own if it may
    held.append(libc.malloc(4096))

threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
fp = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
print(open(sys.argv[2]).read().count("<heap nr="))
"""


def test_a_serving_process_bounds_its_malloc_arenas(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # glibc gives each new thread an arena of its own (up to 8 per core): the freed
    # memory every pool thread keeps grows a busy node; `vigil serve` bounds them
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc arenas are glibc's")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def heaps(bound: int) -> int:
        out = subprocess.run([sys.executable, "-c", ARENAS, str(bound),
                              str(tmp_path / f"info{bound}.xml")],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.strip())
    assert heaps(0) > 2  # glibc's own bound: the threads took arenas of their own
    assert heaps(2) <= 2
    from vigil.web.serve import bound_malloc_arenas
    assert not bound_malloc_arenas(0)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # glibc read the environment's: left alone
    assert not bound_malloc_arenas(2)


def idle_tls_connection(port: int) -> ssl.SSLSocket:
    """A keep-alive TLS connection that made one request and then sits idle: it neither
    reads nor closes, so it never answers the server's close_notify."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += conn.recv(4096)
    assert got.startswith(b"HTTP/1.1 200") and b"connection: close" not in got.lower()
    return conn


@pytest.mark.parametrize("env", [{}, {"VIGIL_METRICS_BIND": "127.0.0.1:{port}"}],
                         ids=["one-listener", "metrics-listener"])
def test_sigterm_stops_a_tls_node_holding_idle_connections(tmp_path: Path,
                                                           env: dict[str, str]) -> None:
    """An idle keep-alive TLS connection (a peer's pooled connection) does not hold the
    node up on SIGTERM: uvicorn would wait out its 30 s TLS shutdown for each one."""
    node = make_node(tmp_path / "node", {"alpha": True})
    pair = make_pair(tmp_path, "node", ip="127.0.0.1")
    env = {k: v.format(port=free_port()) for k, v in env.items()}
    srv = ServerProcess(node.data, env={"VIGIL_FED_NAME": "one", **env},
                        args=["--tls-cert", pair.cert_file, "--tls-key", pair.key_file],
                        ca=pair.cert_file)
    srv.start()
    conns = []
    try:
        assert srv.proc is not None
        conns = [idle_tls_connection(srv.port) for _ in range(2)]
        srv.proc.send_signal(signal.SIGTERM)
        try:
            code = srv.proc.wait(10)  # the old server took 30 s and more
        except subprocess.TimeoutExpired:
            pytest.fail("`vigil serve` did not stop within 10 s of SIGTERM")
        assert code in (0, -15)
    finally:
        srv.kill()
        for c in conns:
            c.close()


def test_sigterm_answers_a_request_in_flight_over_tls(tmp_path: Path) -> None:
    """A request whose body is still coming when SIGTERM arrives is read to its end and
    answered (its connection is not closing, so it is not aborted as an idle one is)."""
    node = make_node(tmp_path / "node", {"alpha": True})
    pair = make_pair(tmp_path, "node", ip="127.0.0.1")
    srv = ServerProcess(node.data, env={"VIGIL_FED_NAME": "one"},
                        args=["--tls-cert", pair.cert_file, "--tls-key", pair.key_file],
                        ca=pair.cert_file).start()
    conn = None
    try:
        assert srv.proc is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        body = b'{"batch": {}, "bodies": []}'
        # a peer's batch route reads the whole body before anything else
        conn.sendall(b"POST /fed/v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(2.0)  # past the looks that abort closed idle connections
        conn.sendall(body[10:])
        got = b""
        while b"\r\n\r\n" not in got:
            more = conn.recv(4096)
            assert more, f"no answer, the connection was closed: {got!r}"
            got += more
        status = int(got.split(b" ", 2)[1])
        assert 400 <= status < 500, got  # answered: refused, as unsigned
        conn.close()
        try:
            code = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("`vigil serve` did not stop within 10 s of SIGTERM")
        assert code in (0, -15)
    finally:
        srv.kill()
        if conn is not None:
            conn.close()
