"""A batch over the node's body limit is split; one object over it is refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from vigil import testing
from vigil.feeds import registry
from vigil.feeds.pull import pull_claimed
from vigil.feeds.registry import Auth, Feed
from vigil.feeds.remote import Page


class Pages:
    """Pages held in memory in place of a TAXII server."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.held = pages

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pages(self, added_after: str | None, per_request: int) -> Any:
        for i, objs in enumerate(self.held):
            yield Page(objs, f"2024-01-0{i + 1}T00:00:00.000000Z")


def malware(name: str) -> dict[str, Any]:
    return {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
            "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
            "name": name, "is_family": True}


def test_oversized_batches_are_split_and_an_oversized_object_refused(tmp_path: Path) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        ex.max_body = 4000
        registry.add_feed(ex.store, Feed("mem", "http://taxii.invalid/api/", "c",
                                         node.members["alpha"].id, "green",
                                         ("member:bravo",), 60, Auth()))
        small = [malware(f"family {i}") for i in range(30)]
        huge = malware("x" * 5000)
        remote = Pages([small[:20], [*small[20:], huge]])
        result = pull_claimed(ex, "mem", remote=lambda f: remote)  # type: ignore
        assert result.published == 30 and result.shares > 2
        assert [(r.object_id, r.code) for r in result.rejects] == [(huge["id"],
                                                                     "input.too_large")]
        assert registry.get_feed(ex.store, "mem").cursor == "2024-01-02T00:00:00.000000Z"
    finally:
        ex.store.close()
