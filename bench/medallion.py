"""A real medallion server (the OASIS reference TAXII 2.1 server, memory backend) for the
benchmarks that compare with it or read from it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from vigil.testing import free_port

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
USER, PASSWORD = "bench", "bench-pass"


def collection(cid: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A readable, writable collection holding ``objects``, with their manifest."""
    return {"id": cid, "title": cid, "description": "", "can_read": True, "can_write": True,
            "media_types": [STIX], "objects": objects,
            "manifest": [{"id": o["id"], "date_added": "2024-01-01T00:00:00.000000Z",
                          "version": o["modified"], "media_type": STIX} for o in objects]}


def start(work: Path, collections: list[dict[str, Any]], *, page: int
          ) -> tuple[subprocess.Popen[bytes], str]:
    """Start medallion on a free port with one API root holding ``collections``; the
    process and the API root's URL, once it answers."""
    port = free_port()
    root = f"http://127.0.0.1:{port}/root/"
    data = {"/discovery": {"title": "bench", "api_roots": [root]},
            "root": {"information": {"title": "bench", "versions": [TAXII],
                                     "max_content_length": 200_000_000},
                     "status": [], "collections": collections}}
    name = f"medallion-{port}"
    (work / f"{name}.json").write_text(json.dumps(data))
    (work / f"{name}.config.json").write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend", "filename": str(work / f"{name}.json")},
        "users": {USER: PASSWORD}, "taxii": {"max_page_size": page}}))
    proc = subprocess.Popen([sys.executable, "-m", "medallion.scripts.run", "--port",
                             str(port), str(work / f"{name}.config.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/taxii2/", timeout=1.0)
            return proc, root
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError("medallion did not start") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
