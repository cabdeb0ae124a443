"""A real medallion server (the OASIS reference TAXII 2.1 server) for the tests."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from vigil.testing import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds" / "medallion-default-data.json"
USER, PASSWORD = "vigil-test", "medallion-pass"
SOURCE = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"  # the default data's readable collection
FEED_IN = "2c2d7b0e-7f4c-4d55-9d0b-6f3a1f1b8a01"  # empty, written by the tests
PUSH_OUT = "7a1e4c3d-2b5f-4e6a-8c9d-0e1f2a3b4c5d"  # empty, the push target


def source_objects() -> list[dict[str, Any]]:
    doc = json.loads(DATA.read_text("utf-8"))
    coll = next(c for c in doc["trustgroup1"]["collections"] if c["id"] == SOURCE)
    objects: list[dict[str, Any]] = coll["objects"]
    return objects


class Medallion:
    def __init__(self, work: Path, *, page: int = 2) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}/trustgroup1/"
        doc = json.loads(DATA.read_text("utf-8"))
        colls = doc["trustgroup1"]["collections"]
        template = next(c for c in colls if c["id"] == "365fed99-08fa-fdcd-a1b3-fb247eb41d01")
        for cid, title in ((FEED_IN, "feed test input"), (PUSH_OUT, "push target")):
            c = copy.deepcopy(template)
            c.update({"id": cid, "title": title, "objects": [], "manifest": [],
                      "can_read": True, "can_write": True})
            colls.append(c)
        data = work / "medallion-data.json"
        data.write_text(json.dumps(doc), "utf-8")
        self.config = work / "medallion-config.json"
        self.config.write_text(json.dumps({
            "backend": {"module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend", "filename": str(data)},
            "users": {USER: PASSWORD},
            "taxii": {"max_page_size": page},
        }), "utf-8")
        self.log = work / "medallion.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def collection(self, cid: str) -> str:
        return f"{self.root}collections/{cid}/"

    def start(self) -> Medallion:
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1",
                 "--port", str(self.port), str(self.config)],
                stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/taxii2/", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("medallion did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self, cid: str) -> Any:
        from taxii2client.v21 import Collection

        return Collection(self.collection(cid), user=USER, password=PASSWORD)

    def objects(self, cid: str) -> list[dict[str, Any]]:
        from taxii2client.v21 import as_pages

        out: list[dict[str, Any]] = []
        for env in as_pages(self.client(cid).get_objects, 100, version="all"):
            out += env.get("objects", [])
        return out
