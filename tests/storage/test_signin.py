"""The sign-in tables (``vigil.storage.signin``), on SQLite and PostgreSQL: users with
their admin flag, tokens and revocation, sessions ended per user or member, certificate
mappings live until revoked, sign-in events per member, and the single sign-on and
second-step rows, each used once and dropped past their time."""

from __future__ import annotations

import uuid

from tests.storage.conftest import member

from vigil.model import Member, User
from vigil.storage import Store
from vigil.storage import signin as si


def user(store: Store, m: Member, name: str, prefix: str = "") -> str:
    u = User(id=f"user--{uuid.uuid4()}", member_id=m.id, name=name, created=f"t-{name}")
    store.add_user(u, f"hash-{name}", prefix)
    return u.id


def test_users_tokens_and_sessions(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    zoe, ana, bob = (
        user(store, a, "zoe", "pz"),
        user(store, a, "ana", "pa"),
        user(store, b, "bob", "pa"),
    )
    assert [r[1] for r in store.read(lambda sql: si.users_of(sql, a.id))] == ["ana", "zoe"]
    assert store.read(lambda sql: si.user_named(sql, a.id, "ana")) == ana
    assert store.read(lambda sql: si.user_named(sql, a.id, zoe)) == zoe
    assert store.read(lambda sql: si.user_named(sql, a.id, "bob")) is None  # another's
    assert store.read(lambda sql: si.users_by_prefix(sql, a.id, "pa")) == [ana]
    assert sorted(store.read(lambda sql: si.users_with_prefix(sql, "pa"))) == sorted(
        [(ana, a.id), (bob, b.id)]
    )
    store.write(lambda sql: si.set_admin(sql, ana, True))
    assert store.read(lambda sql: si.is_admin(sql, ana, a.id))
    assert not store.read(lambda sql: si.is_admin(sql, ana, b.id))
    store.write(lambda sql: si.set_token(sql, zoe, "hash-new", "pn", "read", "t9"))
    assert tuple(store.read(lambda sql: si.token_state(sql, zoe))) == ("read", "t9", False)
    assert store.user_by_token_hash("hash-new") is not None
    assert [r[1] for r in store.read(lambda sql: si.token_rows(sql, member=a.id))] == ["ana", "zoe"]
    assert store.read(lambda sql: si.token_rows(sql, user=zoe))[0][2] == "pn"
    for uid, h in ((ana, "s1"), (zoe, "s2"), (bob, "s3")):
        store.add_session(h, uid, "csrf", "2099-01-01T00:00:00.000Z")
    now = "2026-11-29T00:00:00.000Z"
    store.write(lambda sql: si.end_sessions(sql, ana))
    assert store.get_session("s1", now) is None and store.get_session("s2", now) is not None
    store.write(lambda sql: si.end_member_sessions(sql, a.id))
    assert store.get_session("s2", now) is None and store.get_session("s3", now) is not None
    assert store.write(lambda sql: si.revoke(sql, zoe))
    assert not store.write(lambda sql: si.revoke(sql, zoe))
    assert store.read(lambda sql: si.live_user_named(sql, a.id, "zoe")) is None
    assert store.read(lambda sql: si.live_user_named(sql, a.id, "ana")) == ana
    store.write(lambda sql: si.set_meta(sql, "credential_epoch", "1"))
    store.write(lambda sql: si.set_meta(sql, "credential_epoch", "2"))
    assert store.get_meta("credential_epoch") == "2"


def test_certificates_and_events(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    ana, bob = user(store, a, "ana"), user(store, b, "bob")
    store.write(lambda sql: si.insert_cert(sql, "c1", ana, "spki", "abc", "t1"))
    store.write(lambda sql: si.insert_cert(sql, "c2", bob, "subject", "CN=bob", "t2"))
    assert store.read(lambda sql: si.cert_taken(sql, "spki", "abc"))
    assert store.read(lambda sql: si.live_cert_user(sql, "c1", a.id)) == ana
    assert store.read(lambda sql: si.live_cert_user(sql, "c1", b.id)) is None
    keys = (("spki", "zzz"), ("subject", "CN=bob"))
    assert store.read(lambda sql: si.token_hash_for_cert(sql, keys)) == "hash-bob"
    store.write(lambda sql: si.revoke_cert(sql, "c1"))
    assert not store.read(lambda sql: si.cert_taken(sql, "spki", "abc"))
    assert store.read(lambda sql: si.live_cert_user(sql, "c1", a.id)) is None
    assert [(r[0], r[1], bool(r[5])) for r in store.read(lambda sql: si.certs_of(sql, a.id))] == [
        ("c1", "ana", True)
    ]
    for event in ("signin", "token", "signout"):
        store.write(lambda sql, e=event: si.insert_event(sql, a.id, ana, e, "", "::1", "t"))
    store.write(lambda sql: si.insert_event(sql, b.id, None, "failed", "x", "::1", "t"))
    got = store.read(lambda sql: si.events_after(sql, a.id, 0, 10))
    assert [r[3] for r in got] == ["signin", "token", "signout"]
    assert [r[3] for r in store.read(lambda sql: si.events_after(sql, a.id, got[0][0], 1))] == [
        "token"
    ]


def test_single_sign_on_and_second_steps(store: Store) -> None:
    a = member("a")
    store.add_member(a)
    ana = user(store, a, "ana")
    iss = "https://idp.example"
    row = (iss, "client", "sealed", "member", "sub", "openid", "t")
    store.write(lambda sql: si.insert_provider(sql, row, [a.id]))
    providers, members = store.read(si.provider_rows)
    assert [tuple(p) for p in providers] == [row[:6]] and [tuple(m) for m in members] == [
        (iss, a.id)
    ]
    store.write(lambda sql: si.set_provider_secret(sql, iss, "resealed"))
    assert store.read(si.provider_secrets) == [(iss, "resealed")]
    store.write(lambda sql: si.insert_pending(sql, "st1", iss, "n1", "v1", "t5", "t0"))
    store.write(lambda sql: si.insert_pending(sql, "st2", iss, "n2", "v2", "t9", "t6"))
    assert store.write(lambda sql: si.take_pending(sql, "st1", "t6")) is None  # dropped
    assert tuple(store.write(lambda sql: si.take_pending(sql, "st2", "t7"))) == (iss, "n2", "v2")
    assert store.write(lambda sql: si.take_pending(sql, "st2", "t7")) is None  # used once
    store.add_session("h1", ana, "csrf", "2099-01-01T00:00:00.000Z")
    store.write(lambda sql: si.insert_sso_session(sql, "h1", iss, "tok1", "t9", "sid1", "s"))
    store.write(lambda sql: si.insert_sso_session(sql, "h2", iss, "tok2", "t9", "sid2", "s"))
    assert store.read(lambda sql: si.sso_session_hashes(sql, iss, "sid1", None)) == ["h1"]
    assert store.read(lambda sql: si.sso_session_hashes(sql, iss, "sid1", "other")) == []
    assert sorted(store.read(lambda sql: si.sso_session_hashes(sql, iss, None, "s"))) == [
        "h1",
        "h2",
    ]
    assert tuple(store.write(lambda sql: si.end_console_session(sql, "h1"))) == (ana, a.id)
    assert store.get_session("h1", "2026-11-29T00:00:00.000Z") is None
    assert tuple(store.write(lambda sql: si.take_sso_session(sql, "h2", "t1"))) == (iss, "tok2")
    assert store.write(lambda sql: si.take_sso_session(sql, "h2", "t1")) is None
    assert store.write(lambda sql: si.delete_provider(sql, iss))
    assert not store.write(lambda sql: si.delete_provider(sql, iss))

    # passkeys and the second step
    store.write(lambda sql: si.set_keys_required(sql, a.id, True))
    store.write(lambda sql: si.set_keys_required(sql, a.id, True))
    assert store.read(lambda sql: si.keys_required(sql, a.id))
    store.write(lambda sql: si.insert_passkey(sql, ("k1", ana, "laptop", b"pk", 0, "t1")))
    assert store.read(lambda sql: si.passkey_exists(sql, "k1"))
    assert store.read(lambda sql: si.passkey_name(sql, "k1", ana)) == "laptop"
    assert store.read(lambda sql: si.passkey_name(sql, "k1", "user--other")) is None
    store.write(lambda sql: si.set_sign_count(sql, "k1", 5))
    got = store.read(lambda sql: si.passkey_row(sql, "k1"))
    assert (got[0], bytes(got[1]), got[2]) == (ana, b"pk", 5)
    assert [r[1] for r in store.read(lambda sql: si.passkeys_of(sql, ana))] == ["laptop"]
    step = ("id1", ana, "chal", "passkey", None, None, "t5")
    store.write(lambda sql: si.insert_step(sql, step, "t0"))
    assert tuple(store.read(lambda sql: si.step_row(sql, "id1", "t4"))) == (
        ana,
        "chal",
        "passkey",
        None,
        None,
    )
    assert store.read(lambda sql: si.step_row(sql, "id1", "t5")) is None  # past its time
    assert store.write(lambda sql: si.delete_step(sql, "id1"))
    assert not store.write(lambda sql: si.delete_step(sql, "id1"))
    store.write(lambda sql: si.delete_passkey(sql, "k1"))
    store.write(lambda sql: si.set_keys_required(sql, a.id, False))
    assert not store.read(lambda sql: si.passkey_exists(sql, "k1"))
    assert not store.read(lambda sql: si.keys_required(sql, a.id))
