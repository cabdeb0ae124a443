"""`vigil peer alarms` / `vigil peer decide`: fork alarms and the operator's decision;
`vigil directory lookup`: a remote member's keys, accepted only with their proofs."""

from __future__ import annotations

import click

from vigil.cli.base import Ctx, out, pass_ctx
from vigil.cli.peer import _with_exchange, peer


@peer.command("alarms")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def peer_alarms(c: Ctx, as_json: bool) -> None:
    """Fork alarms on peers, with the signed evidence (two notes each)."""
    from vigil.witness.alarms import Alarms

    alarms = _with_exchange(c, lambda ex: [a.to_json() for a in Alarms(ex.store).all()])
    if as_json:
        out(alarms)
        return
    if not alarms:
        click.echo("no fork alarm")
    for a in alarms:
        ev = a["evidence"]
        click.echo(f"{a['node']}  {a['status'].upper()}  raised {a['raised']}  "
                   f"{ev['kind']} at size {ev['size']}: {ev['detail']}"
                   + (f"  decided by {a['decided_by']}: {a['reason']}" if a["decided_by"]
                      else ""))
        for note in ev["notes"]:
            click.echo("    " + note.replace("\n", "\n    ").rstrip())


@peer.command("decide")
@click.argument("node")
@click.argument("decision", type=click.Choice(["resume", "expel"]))
@click.option("--reason", required=True, help="why, kept with the alarm")
@click.option("--operator", required=True, help="who decides, kept with the alarm")
@pass_ctx
def peer_decide(c: Ctx, node: str, decision: str, reason: str, operator: str) -> None:
    """Close a fork alarm: resume taking the node's items, or keep them refused (expel;
    the roster expulsion is a threshold statement of the nodes)."""
    from vigil.witness.alarms import Alarms

    alarm = _with_exchange(c, lambda ex: Alarms(ex.store).decide(node, decision, operator,
                                                                 reason))
    click.echo(f"{alarm.node}: {alarm.status}")


@click.group()
def directory() -> None:
    """The key directory of members of other nodes (docs/federation.md)."""


@directory.command("lookup")
@click.argument("node_ref")
@click.argument("member")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def directory_lookup(c: Ctx, node_ref: str, member: str, as_json: bool) -> None:
    """Look MEMBER up at peer NODE_REF; print its keys only if the answer proves them
    (inclusion proofs, the member's chain, k cosignatures of this node's peers)."""
    from vigil.crypto.encoding import b64u
    from vigil.directory.lookup import verify_lookup
    from vigil.errors import NotFound
    from vigil.federation import peers as fed_peers
    from vigil.federation.descriptor import hop_key, tls_pair
    from vigil.federation.trust import witness_name
    from vigil.federation.trust_peers import peer_client
    from vigil.protocol.witnessing import quorum

    def run(ex: object) -> dict[str, object]:
        ps = fed_peers.peers(ex.store)  # type: ignore[attr-defined]
        home = next((p for p in ps if node_ref in (p.name, p.node)), None)
        if home is None:
            raise NotFound(f"no peer {node_ref}", code="fed.unknown_peer")
        hop = hop_key(c.settings().data_dir)
        with peer_client(ex, hop, home, 10.0,  # type: ignore[arg-type]
                         tls_pair(c.settings())) as client:
            r = client.get(home.url.rstrip("/") + "/directory/lookup",
                           params={"member": member})
        r.raise_for_status()
        witnesses = {witness_name(p.node): p.key for p in ps}
        witnesses[witness_name(ex.node_id)] = ex.node_key_raw  # type: ignore[attr-defined]
        keys = verify_lookup(r.json(), home.node, home.key, witnesses, quorum(len(ps) + 1),
                             member)
        return {"member": keys.member, "home": keys.home,
                "sign_key": b64u(keys.sign_key) if keys.sign_key else None,
                "sign_key_id": keys.sign_key_id, "enc_key": b64u(keys.enc_key),
                "revoked": keys.revoked}

    got = _with_exchange(c, run)
    if as_json:
        out(got)
        return
    for k, v in got.items():
        click.echo(f"{k}: {v}")


def _member_id(ex: object, ref: str) -> str:
    from vigil.errors import NotFound

    members = ex.directory().members  # type: ignore[attr-defined]
    for m in members.values():
        if ref in (m.id, m.name):
            return str(m.id)
    raise NotFound(f"no member {ref}", code="member.not_found")


@directory.command("register")
@click.argument("member")
@pass_ctx
def directory_register(c: Ctx, member: str) -> None:
    """Register MEMBER's keys in this node's directory log (its keyring must be held
    here; a member holding its own keys registers through its client)."""
    from vigil.errors import NotFound
    from vigil.federation.trust_directory import register_keys

    def run(ex: object) -> int:
        mid = _member_id(ex, member)
        kr = ex.held.get(mid)  # type: ignore[attr-defined]
        if kr is None:
            raise NotFound("this node does not hold that member's keyring",
                           code="member.not_found")
        # registered already: its first entry (a federating node registers those whose
        # keyrings it holds by itself)
        return register_keys(ex, kr)  # type: ignore[arg-type]

    click.echo(f"directory entry {_with_exchange(c, run)}")


@directory.command("revoke")
@click.argument("member")
@click.option("--lost", is_flag=True, required=True,
              help="the member lost its key: this node revokes it alone")
@pass_ctx
def directory_revoke(c: Ctx, member: str, lost: bool) -> None:
    """Revoke MEMBER's current signing key from the next index of this node's log on.
    Every node refuses the key's signatures from there (docs/federation.md)."""
    from vigil.directory.log import DirectoryLog
    from vigil.directory.revocation import revoke_at_home
    from vigil.errors import Conflict
    from vigil.storage.base import Sql
    from vigil.storage.keys import log_size

    def run(ex: object) -> tuple[int, int]:
        mid = _member_id(ex, member)
        d = DirectoryLog(ex.store, ex.node_id, ex.node_key)  # type: ignore[attr-defined]
        d.keys(mid)  # dir.unknown_member without a chain

        def revoke(sql: Sql) -> tuple[int | None, int]:
            after = log_size(sql)  # from the next index of the main log on
            return revoke_at_home(d, sql, mid, after,
                                  ex.node_key), after  # type: ignore[attr-defined]
        idx, after = d.write(revoke)
        if idx is None:  # its chain names no current key
            raise Conflict("this member's key is revoked in the directory already",
                           code="keys.revoked")
        return idx, after

    idx, after = _with_exchange(c, run)
    click.echo(f"directory entry {idx}: revoked from log index {after}")


@directory.command("take")
@click.argument("member")
@pass_ctx
def directory_take(c: Ctx, member: str) -> None:
    """Host MEMBER, which moved here: its home peer's directory lookup must end in a
    signed move to this node with the keys this node holds for it (``dir.not_moved``
    otherwise). Peers learn the move from this node's announcement, the proof attached
    (docs/federation.md, "Re-homing")."""
    from vigil.federation.trust import TrustService

    def run(ex: object) -> str:
        trust = TrustService(ex)  # type: ignore[arg-type]
        old = trust.take(_member_id(ex, member))
        return next((p.name for p in trust.peer_list() if p.node == old), old)

    click.echo(f"{member} moved here from {_with_exchange(c, run)}")
