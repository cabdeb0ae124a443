"""The transparency log over HTTP: checkpoints, proofs, entries, gossip."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from vigil.crypto.encoding import b64u
from vigil.errors import InputError
from vigil.log.gossip import Gossip
from vigil.log.merkle import leaf_hash
from vigil.log.note import vkey
from vigil.policy.access import Access
from vigil.web.deps import ActorDep, StateDep, number

router = APIRouter(prefix="/log", tags=["log"])
MAX_ENTRIES = 10_000


def _hashes(proof: list[bytes]) -> list[str]:
    return [b64u(h) for h in proof]


@router.get("/checkpoint")
async def checkpoint(
    st: StateDep,
    actor: ActorDep,
    size: Annotated[int | None, Query(ge=0, description="an earlier tree size"),
                    number("size")] = None,
) -> dict[str, Any]:
    """The node's signed checkpoint (C2SP signed note) of its latest log, or of an
    earlier size. Verify it with the key in `key.vkey`."""
    log = st.exchange.log
    cp, note = await st.read(log.checkpoint, size)
    return {"origin": cp.origin, "size": cp.size, "root": b64u(cp.root), "checkpoint": note,
            "key": {"name": log.key_name, "vkey": vkey(log.key_name, log.public_raw)}}


@router.get("/inclusion")
async def inclusion(
    st: StateDep,
    actor: ActorDep,
    index: Annotated[int, Query(ge=0), number("index")],
    size: Annotated[int, Query(ge=1), number("size", 1)],
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    proof = await st.read(st.exchange.log.inclusion, index, size)
    return {"index": index, "size": size, "proof": _hashes(proof)}


@router.get("/consistency")
async def consistency(
    st: StateDep,
    actor: ActorDep,
    first: Annotated[int, Query(ge=1, alias="from"), number("from", 1)],
    second: Annotated[int, Query(ge=1, alias="to"), number("to", 1)],
) -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of `to` entries extends that of `from`."""
    proof = await st.read(st.exchange.log.consistency, first, second)
    return {"from": first, "to": second, "proof": _hashes(proof)}


@router.get("/entries")
async def entries(
    st: StateDep,
    actor: ActorDep,
    start: Annotated[int, Query(ge=0), number("start")] = 0,
    end: Annotated[int | None, Query(ge=0, description="default: start + 1000"),
                   number("end")] = None,
) -> dict[str, Any]:
    """Entries `[start, end)`: every leaf hash, and the entry itself where the caller
    may see it (docs/policy.md, "Log entries")."""
    stop = start + 1000 if end is None else end
    if stop < start or stop - start > MAX_ENTRIES:
        raise InputError(f"ask for at most {MAX_ENTRIES} entries, start <= end",
                         code="log.bad_range", pointer="/end")
    ex = st.exchange
    rows = await st.read(ex.log.entries, start, stop)
    seen = await st.read(Access(ex, actor.member).log_entries, rows)
    out = []
    for index, data, entry in seen:
        item: dict[str, Any] = {"index": index, "leaf_hash": b64u(leaf_hash(data))}
        if entry is not None:
            item["entry"] = entry
        out.append(item)
    return {"entries": out, "next": rows[-1][0] + 1 if rows else start}


@router.get("/shares/{share_id}")
async def share_entries(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The log entries about one share the caller may read, with the share's own place
    and inclusion proof (what delivery carries)."""
    ex = st.exchange
    await st.read(ex.share, actor.member, share_id)  # share.not_found unless readable
    refs = await st.read(ex.log.share_refs, [share_id])
    idx = await st.read(ex.log.entry_indexes, share_id)
    ref = refs.get(share_id)
    return {"share": share_id, "log": ref.to_json() if ref else None,
            "entries": [{"index": i, "kind": k} for i, k in idx]}


class GossipIn(BaseModel):
    checkpoint: str = Field(description="a signed checkpoint of this node's log")


@router.post("/gossip")
async def gossip_in(body: GossipIn, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Hand in a checkpoint this node gave you. The node keeps every validly signed one
    and flags two roots for one size (a fork) to every member."""
    g = Gossip(st.exchange.log)
    return await st.write(g.receive, body.checkpoint, actor.member)


@router.get("/gossip")
async def gossip_out(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Every checkpoint members handed in, and every fork found among them or against
    the node's own tree, each with both signed checkpoints as proof."""
    return await st.read(Gossip(st.exchange.log).report)
