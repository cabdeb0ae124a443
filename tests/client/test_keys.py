"""The member's client in the key life cycle: a rotation makes a new keyring and keeps
the old one beside it; shares sealed to the old key still open with it, are wrapped
again to the new key on the client, and then open without the old keyring."""

from __future__ import annotations

import pytest
from tests.client.conftest import Local

from vigil.client import Client
from vigil.client.keys import load_retired, open_held, rewrap, rotate
from vigil.errors import CryptoError, VigilError
from vigil.testing import PASSPHRASE, stix


def test_rotate_then_rewrap(local: Local) -> None:
    m = local.node.members["delta"]
    body = stix.bundle(stix.malware("before the rotation"))
    with local.sdk("alpha", keyring=False) as alpha:
        sid = alpha.publish(body, tlp="amber", to=["group1"])["id"]
    with local.sdk("delta") as delta:
        old = delta.keyring
        assert old is not None
        new = rotate(delta, m.keyring_path, PASSPHRASE)
        assert new.enc_key_id != old.enc_key_id and new.member_id == old.member_id
        assert delta.keyring is new and delta.retired_keyrings == [old]
        assert delta.member("delta")["enc_key"]["id"] == new.enc_key_id
    [kept] = load_retired(m.keyring_path, PASSPHRASE)
    assert kept.enc_key_id == old.enc_key_id

    def fresh(retired: bool) -> Client:
        c = local.sdk("delta", keyring=False)
        c.keyring = new
        if retired:
            c.retired_keyrings.append(kept)
        return c

    with fresh(retired=False) as c:
        env, _ = c.envelope(sid)
        with pytest.raises(VigilError) as caught:  # its wrap is to the old key only
            open_held(c, env)
        assert caught.value.code == "share.not_found"  # no wrap to the new key yet
    with fresh(retired=True) as c:
        assert open_held(c, env) == body
        assert rewrap(c) == 1
    with fresh(retired=False) as c:
        assert open_held(c, env) == body
    with local.sdk("delta", keyring=False) as plain, pytest.raises(CryptoError) as no_key:
        rotate(plain, m.keyring_path, PASSPHRASE)
    assert no_key.value.code == "client.no_keyring"
