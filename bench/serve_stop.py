"""Seconds from SIGTERM to exit of a TLS `vigil serve` (one process, federating) that
holds idle keep-alive connections, each of which made one request and then neither
reads nor closes (a peer's pooled connection).

    python -m bench.serve_stop --idle 2

Before/after: the same command with ``PYTHONPATH`` on the old tree first, then on this
one (the server runs the tree's code too: ``vigil.testing.ServerProcess`` keeps the
environment).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.web.test_serve import idle_tls_connection
from tests.web.test_tls import make as make_pair

from vigil.testing import ServerProcess, make_node


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=int, default=2, help="idle TLS connections held")
    ap.add_argument("--limit", type=float, default=120.0, help="seconds before a kill")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        node = make_node(root / "node", {"alpha": True})
        pair = make_pair(root, "node", ip="127.0.0.1")
        srv = ServerProcess(node.data, env={"VIGIL_FED_NAME": "one"},
                            args=["--tls-cert", pair.cert_file, "--tls-key", pair.key_file],
                            ca=pair.cert_file).start()
        assert srv.proc is not None
        conns = [idle_tls_connection(srv.port) for _ in range(args.idle)]
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(args.limit)
            took = f"{time.monotonic() - t0:.2f} s"
        except subprocess.TimeoutExpired:
            took = f"more than {args.limit:g} s (killed)"
        srv.kill()
        for c in conns:
            c.close()
    print(f"idle TLS connections: {args.idle}; SIGTERM to exit: {took}")


if __name__ == "__main__":
    main()
