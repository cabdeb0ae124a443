"""The item kinds of a batch, checked in the receiving node's transaction: an unknown
kind or a malformed body refused with its code, a kind added by ``register`` used, a
share item checked fully (its originator homed at the sending peer, a recipient hosted
here) before its write stages it, stored by ``flush`` and idempotent after."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.federation.pairs import batch, network, publish, sync

from vigil import clock
from vigil.errors import VigilError
from vigil.federation import kinds
from vigil.storage.base import Sql


def test_items_checked_before_they_write(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {"alpha": True},
                            "berlin": {"bravo": True}}) as (a, b):
        sid = publish(a, "alpha", ["member:bravo@berlin"])
        sync(a, b)
        data = batch(a, b)
        [body] = [x for it, x in zip(data["batch"]["items"], data["bodies"], strict=True)
                  if it["kind"] == "share"]
        peer = b.peers["athens"]
        seen: list[Mapping[str, Any]] = []

        def custom(ctx: kinds.Context, item: Mapping[str, Any]) -> kinds.Write:
            seen.append(item)
            return kinds.noop

        kinds.register("test-kind", custom)

        def run(sql: Sql) -> list[str]:
            ctx = kinds.Context(b.ex, peer, sql, clock.now(), data["batch"])

            def code(kind: str, item: Any) -> str:
                with pytest.raises(VigilError) as caught:
                    kinds.check(ctx, kind, item)
                return caught.value.code

            out = [code("no-such-kind", {}), code("member", {"member": 1})]
            assert kinds.check(ctx, "test-kind", {"x": 1}) is kinds.noop and seen == [{"x": 1}]
            assert kinds.check(ctx, "share", {"gone": True}) is kinds.noop
            forged = copy.deepcopy(body)
            forged["envelope"]["header"]["originator"] = b.id("bravo")  # not homed there
            out.append(code("share", forged))
            write = kinds.check(ctx, "share", body)
            assert ctx.staged == {} and ctx.share_head(sid) is None
            write()
            assert list(ctx.staged) == [sid]
            ctx.flush()
            assert ctx.staged == {} and ctx.share_head(sid) is not None
            assert kinds.check(ctx, "share", body) is kinds.noop  # stored already
            return out

        try:
            assert b.ex.store.write(run) == ["fed.unknown_kind", "fed.bad_item",
                                             "fed.forged_originator"]
        finally:
            kinds._KINDS.pop("test-kind")
        assert b.ex.store.get_share(sid) is not None
