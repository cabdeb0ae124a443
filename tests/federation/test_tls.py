"""Node-to-node TLS with both sides' keys pinned: the calling node presents its own TLS
key as client certificate, and the answering node serves ``/fed/v1`` only to a
connection whose client key is the TLS key pinned for the request's signed origin."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography import x509
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil.client import Client
from vigil.client.tls import transports
from vigil.errors import VigilError
from vigil.federation import codec, peers
from vigil.federation.descriptor import self_signed, tls_paths, tls_pin
from vigil.node.exchange import Exchange
from vigil.signin import certs
from vigil.testing.stix import canary_bundle as bundle_with


def pair_of(node: FedNode) -> tuple[str, str]:
    cert, key = tls_paths(node.node.data)
    return str(cert), str(key)


def pull(signer: FedNode, dest: FedNode, pair: tuple[str, str] | None) -> httpx.Response:
    """``signer``'s signed pull from ``dest``, over a connection pinned to ``dest``'s TLS
    key that presents ``pair`` (None: no client certificate)."""
    ex = signer.exchange()
    target = httpx.URL(dest.url + "/fed/v1/outbox", params={"after": 0})
    header = codec.sign_request(ex.node_key, "GET", target.raw_path.decode(), ex.node_id,
                                dest.exchange().node_id, b"")
    cert, key = pair if pair is not None else (None, None)
    pin = tls_pin(tls_paths(dest.node.data)[0])
    with httpx.Client(transport=transports(cert=cert, key=key, pin=pin)[0], timeout=20) as c:
        return c.get(target, headers={codec.HEADER: header})


def test_each_side_pins_the_other_s_tls_key(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": True}, tls=True)
    b = make_fed_node(tmp_path, "berlin", {"bravo": True}, tls=True)
    c = make_fed_node(tmp_path, "cairo", {"charlie": True}, tls=True)
    d = make_fed_node(tmp_path, "dresden", {"delta": True}, tls=True)
    (tmp_path / "stranger").mkdir()
    stranger = self_signed(tmp_path / "stranger")
    with running([a, b, c, d]):
        peer_all([a, b])
        peer_all([b, c])
        # the descriptor carries the certificate whose key its signed tls_pin names
        signed = peers.fetch_descriptor(a.url)
        assert signed["descriptor"]["tls_pin"] == tls_pin(tls_paths(a.node.data)[0])
        assert "BEGIN CERTIFICATE" in signed["tls_cert"]

        # a share crosses: athens presents its pinned key to berlin, and berlin to athens
        wait_for(knows(a, "bravo@berlin"), 60)
        wait_for(knows(b, "alpha@athens"), 60)
        ca = Client(a.url, a.node.members["alpha"].token,
                    pin=tls_pin(tls_paths(a.node.data)[0]))  # a member: no certificate
        res = ca.publish(bundle_with("both-pinned"), tlp="amber", to=["member:bravo@berlin"])
        ca.close()
        wait_for(lambda: b.service.ex.store.get_share(res["id"]) is not None, 60)

        # athens' signed request on athens' own key: served
        assert wait_for(lambda: pull(a, b, pair_of(a)).status_code == 200, 30)
        # the same signed request without a client certificate: refused
        r = pull(a, b, None)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "fed.no_client_cert")
        # on the key pinned for another peer (cairo's, which berlin's TLS layer lets in):
        # refused, the body signature notwithstanding
        r = pull(a, b, pair_of(c))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "fed.client_key_mismatch")
        # on a key no peer has: the handshake fails, nothing is served
        with pytest.raises(httpx.TransportError):
            pull(a, b, (str(stranger[0]), str(stranger[1])))
        # a node that is not a peer: refused with its own key, and without one
        with pytest.raises(httpx.TransportError):
            pull(d, b, pair_of(d))
        r = pull(d, b, None)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "fed.unknown_peer")
        # member-facing routes need no client certificate
        with httpx.Client(verify=False, timeout=20) as plain:
            assert plain.get(b.url + "/api/v1/federation/status",
                             headers=b.auth()).status_code == 200
        # a peer's certificate stands for no user, even one mapped by its subject (a peer
        # writes its certificate's subject itself)
        certs.add(b.exchange(), "bravo", "analyst", "subject", subject_of(a))
        pin_b = tls_pin(tls_paths(b.node.data)[0])
        cert, key = pair_of(a)
        with httpx.Client(transport=transports(cert=cert, key=key, pin=pin_b)[0],
                          timeout=20) as as_athens:
            r = as_athens.get(b.url + "/api/v1/federation/status")
        assert r.status_code == 401, r.text


def subject_of(node: FedNode) -> str:
    return certs.subject_of(x509.load_pem_x509_certificate(
        tls_paths(node.node.data)[0].read_bytes()))


def test_a_relayed_link_presents_pinned_keys_on_each_connection(tmp_path: Path) -> None:
    """athens and berlin reach each other only through rome, every node on TLS: athens
    presents its key to rome, rome its own to berlin, and a share crosses."""
    a = make_fed_node(tmp_path, "athens", {"alpha": True}, tls=True)
    b = make_fed_node(tmp_path, "berlin", {"bravo": True}, tls=True)
    r = make_fed_node(tmp_path, "rome", {"romeo": True}, tls=True)
    with running([a, b, r]):
        peer_all([a, r])
        peer_all([b, r])
        ex_a, ex_b = a.exchange(), b.exchange()
        pin_a = peers.fetch_descriptor(a.url)["descriptor"]["pin"]
        pin_b = peers.fetch_descriptor(b.url)["descriptor"]["pin"]
        # the relay serves its copy of a descriptor only on the caller's pinned key (rome's
        # TLS layer takes a new peer's key at its next refresh, within half a second)
        assert wait_for(lambda: _via(ex_a, pin_b, pair_of(a)) is None, 30)
        assert wait_for(lambda: _via(ex_b, pin_a, pair_of(b)) is None, 30)
        with pytest.raises(VigilError) as e:
            peers.add_via(ex_b, "rome", pin_a)  # no client certificate
        assert e.value.code == "fed.unreachable"
        for ex, other in ((ex_a, ex_b), (ex_b, ex_a)):  # nothing reaches the direct address
            ex.store.write(lambda sql, ex=ex, other=other: sql.execute(
                "UPDATE fed_peers SET url=? WHERE node_id=?",
                ("http://127.0.0.1:9/fed/v1", other.node_id)))
        wait_for(knows(a, "bravo@berlin"), 90)
        wait_for(knows(b, "alpha@athens"), 90)
        ca = Client(a.url, a.node.members["alpha"].token,
                    pin=tls_pin(tls_paths(a.node.data)[0]))
        res = ca.publish(bundle_with("relayed-pinned"), tlp="amber", to=["member:bravo@berlin"])
        ca.close()
        wait_for(lambda: b.service.ex.store.get_share(res["id"]) is not None, 90)


def _via(ex: Exchange, pin: str, pair: tuple[str, str]) -> str | None:
    try:
        peers.add_via(ex, "rome", pin, tls_pair=pair)
    except VigilError as e:
        return e.code
    return None
