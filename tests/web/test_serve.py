"""`vigil serve` with a separate metrics listener: it serves /metrics only, and the
node still stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx

from vigil.testing import ServerProcess, free_port, make_node


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
