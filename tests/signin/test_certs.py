"""Client-certificate mappings on each store: by key pin or subject, refused when
revoked or malformed, recorded in the member's events (the operator's commands:
tests/cli/test_tokens.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from tests.tls_pairs import make

from vigil.crypto.pins import spki_pin
from vigil.errors import AuthError, Conflict, InputError, NotFound
from vigil.signin import audit, certs
from vigil.testing import make_node


def test_mappings_by_pin_and_subject(tmp_path: Path, store: str | None) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=store)
    ex = node.exchange()
    card, badge = make(tmp_path, "card"), make(tmp_path, "badge")
    der = {p.cert_file: p.cert.public_bytes(Encoding.DER) for p in (card, badge)}
    try:
        with pytest.raises(AuthError):
            certs.authenticate(ex, der[card.cert_file])
        cid = certs.add(ex, "alpha", "analyst", "spki", spki_pin(card.cert))
        certs.add(ex, "bravo", "analyst", "subject", certs.subject_of(badge.cert))
        assert certs.authenticate(ex, der[card.cert_file]).member == node.members["alpha"].id
        assert certs.authenticate(ex, der[badge.cert_file]).member == node.members["bravo"].id
        with pytest.raises(Conflict):
            certs.add(ex, "bravo", "analyst", "spki", spki_pin(card.cert))
        for kind, value in (("spki", "sha256/short"), ("subject", "not a name"),
                            ("thumb", "x")):
            with pytest.raises(InputError):
                certs.add(ex, "alpha", "analyst", kind, value)
        with pytest.raises(NotFound):
            certs.revoke(ex, "bravo", cid)  # another member's mapping
        certs.revoke(ex, "alpha", cid)
        with pytest.raises(AuthError):
            certs.authenticate(ex, der[card.cert_file])
        kinds = [e.event for e in audit.events(ex, node.members["alpha"].id)]
        assert kinds == ["certificate.added", "certificate.revoked"]
    finally:
        ex.store.close()
