"""The console in process: sign-in, cookie auth, CSRF, pages, policy, filters, publish."""

from __future__ import annotations

import html
import re

from vigil.model import Actor, Tlp
from vigil.web.auth import SESSION_COOKIE
from vigil.web.console.stixview import bundle_view, observables

from .conftest import Console, csrf_of, rich_bundle


def publish(con: Console, who: str, to: list[str], tlp: Tlp = Tlp.AMBER,
            themes: tuple[str, ...] = (), regions: tuple[str, ...] = (),
            raw: bytes | None = None) -> str:
    ex = con.exchange
    intel = {"evaluation": "B2", "legal_basis": "bilateral",
             "legal_purposes": ["investigation"]} if "terrorism" in themes else {}
    req = ex.make_request(con.id(who), tlp=tlp, to=to, themes=themes, regions=regions,
                          **intel)  # type: ignore[arg-type]
    return ex.publish_bundle(Actor(con.id(who), "u"), raw or rich_bundle(), req).envelope.id


def test_signin_sets_strict_httponly_cookie_and_signout_clears_it(console: Console) -> None:
    c = console.client()
    assert c.get("/").headers["location"] == "/signin"
    page = c.get("/signin")
    assert page.status_code == 200 and 'type="password"' in page.text
    bad = c.post("/signin", data={"csrf": csrf_of(page.text), "token": "vgl_nope"})
    assert bad.status_code == 401 and "auth.bad_token" in bad.text
    r = c.post("/signin", data={"csrf": csrf_of(page.text),
                                "token": console.node.members["bravo"].token})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert console.node.members["bravo"].token not in cookie
    home = c.get("/")
    assert home.status_code == 200 and "member:bravo" in home.text
    assert "default-src 'none'" in home.headers["content-security-policy"]
    out = c.post("/signout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    c.cookies.clear()
    assert c.get("/").status_code == 303


def test_signin_and_posts_refuse_a_missing_or_wrong_csrf_token(console: Console) -> None:
    c = console.client()
    c.get("/signin")
    r = c.post("/signin", data={"csrf": "forged", "token": console.node.members["bravo"].token})
    assert r.status_code == 403 and "auth.csrf" in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    b = console.sign_in("bravo")
    for path, data in (("/publish", {"content": "198.51.100.1", "tlp": "amber", "channel": "a-b",
                                     "action": "send"}),
                       ("/signout", {})):
        r = b.post(path, data=data)
        assert r.status_code == 403 and "auth.csrf" in r.text
        r = b.post(path, data={**data, "csrf": "x" * 43})
        assert r.status_code == 403
    assert list(console.exchange.sent(console.id("bravo"))) == []
    assert b.get("/").status_code == 200  # still signed in


def test_cookie_authenticates_the_stream_and_gets_but_not_api_writes(console: Console) -> None:
    b = console.sign_in("bravo")
    me = b.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["member"]["name"] == "bravo"
    r = b.post("/api/v1/preview", json={"tlp": "amber", "to": ["a-b"]})
    assert r.status_code == 401  # a cookie never authorises an API write (no CSRF there)
    assert console.client().get("/api/v1/me").status_code == 401
    sid = publish(console, "alpha", ["a-b"])
    with b.stream("GET", "/api/v1/stream") as s:
        assert s.status_code == 200
        for line in s.iter_lines():
            if line.startswith("data:"):
                assert sid in line
                break


def test_inbox_share_channels_sent_render_for_the_right_member(console: Console) -> None:
    sid = publish(console, "alpha", ["a-b"], themes=("critical-infrastructure/energy",),
                  regions=("EE",))
    b, c, a = console.sign_in("bravo"), console.sign_in("charlie"), console.sign_in("alpha")
    inbox = b.get("/").text
    assert sid in inbox and "TLP:AMBER" in inbox and "a-b" in inbox
    page = b.get(f"/shares/{sid}")
    assert page.status_code == 200
    t = page.text
    assert "signed by alpha (member:alpha" in t and "verified" in t
    assert "T0855" in t and "Unauthorized Command Message" in t
    assert "Industroyer2" in t and "Sandworm Team" in t and "ELECTRUM" in t
    assert re.search(r"Sandworm Team</td><td>→ uses →</td><td>Industroyer2", t)
    assert "ipv4-addr:value <code>198.51.100.7</code>" in t
    assert "<svg" in t and "<line" in t and "and receipts</h2>" not in t  # B: not originator
    # C: not in the channel: the same "not found" as a share that does not exist
    for ref in (sid, "share--00000000-0000-4000-8000-000000000000", "junk"):
        r = c.get(f"/shares/{ref}")
        assert r.status_code == 404 and "Not found" in r.text and "Industroyer2" not in r.text
    assert sid not in c.get("/").text
    # the originator sees the recipients
    ta = a.get(f"/shares/{sid}").text
    assert "Recipients and receipts</h2>" in ta and "member:bravo" in ta
    assert sid in a.get("/sent").text and sid not in b.get("/sent").text
    ch = b.get("/channels").text
    assert "a-b" in ch and "group1" in ch and "every active member" in ch and "join" in ch
    ch_c = c.get("/channels").text
    assert "a-b" not in ch_c and "group1" not in ch_c


def test_sealed_share_for_a_member_whose_keys_the_node_lacks(console: Console) -> None:
    sid = publish(console, "alpha", ["group1"])
    d = console.sign_in("delta")
    t = d.get(f"/shares/{sid}").text
    assert "Sealed to your organisation" in t and f"vigil show {sid} --keyring FILE" in t
    assert "verified" in t and "Industroyer2" not in t


def test_inbox_filters_server_side(console: Console) -> None:
    s1 = publish(console, "alpha", ["a-b"], tlp=Tlp.AMBER, themes=("cyber",), regions=("EE",))
    s2 = publish(console, "alpha", ["everyone"], tlp=Tlp.GREEN, themes=("terrorism",),
                 regions=("KE",))
    s3 = publish(console, "charlie", ["everyone"], tlp=Tlp.CLEAR, themes=("cyber",))
    b = console.sign_in("bravo")
    cases = {
        "": {s1, s2, s3}, "?theme=cyber": {s1, s3}, "?region=ke": {s2}, "?tlp=green": {s2},
        "?tlp=TLP:AMBER": {s1}, "?channel=everyone": {s2, s3}, "?channel=a-b": {s1},
        "?originator=charlie": {s3}, "?originator=alpha&theme=cyber": {s1},
        "?channel=not-mine": set(), "?originator=nobody": set(),
    }
    for q, want in cases.items():
        text = b.get("/" + q).text
        assert {s for s in (s1, s2, s3) if s in text} == want, q
    assert b.get("/?tlp=purple").status_code == 400


def test_publish_ioc_list_preview_then_send(console: Console) -> None:
    a = console.sign_in("alpha")
    form = {"csrf": csrf_of(a.get("/publish").text), "kind": "auto", "channel": "a-b",
            "tlp": "amber", "purpose": "detection", "no_onward": "1", "themes": "cyber",
            "more_themes": "critical-infrastructure/energy", "regions": "EE, ua",
            "content": "# from the incident\n198.51.100[.]23\nhxxp://evil[.]example/x\n"
                       "44d88612fea8a8f36de82e1278abb02f\n"}
    pre = a.post("/publish", data={**form, "action": "preview"})
    assert pre.status_code == 200, pre.text
    assert "Who will receive it" in pre.text and "member:bravo" in pre.text
    assert "sealed" in pre.text and 'value="send"' in pre.text
    assert list(console.exchange.sent(console.id("alpha"))) == []  # preview sends nothing
    seal = re.search(r'name="previewed" value="([0-9a-f]+)"', pre.text)
    assert seal is not None
    # Send only what was previewed: a changed form or no preview sends nothing
    for changed in ({}, {"previewed": seal.group(1), "channel": "everyone"},
                    {"previewed": seal.group(1), "content": "198.51.100.99"}):
        r = a.post("/publish", data={**form, "action": "send", **changed})
        assert r.status_code == 409 and "Nothing was sent" in r.text
    assert list(console.exchange.sent(console.id("alpha"))) == []
    sent = a.post("/publish", data={**form, "action": "send", "previewed": seal.group(1)})
    assert sent.status_code == 303
    share_url = sent.headers["location"]
    b = console.sign_in("bravo")
    t = b.get(share_url).text
    assert "ipv4-addr:value <code>198.51.100.23</code>" in t
    assert "url:value <code>http://evil.example/x</code>" in t
    assert "file:hashes.&#39;MD5&#39;" in t and "detection" in t and "no onward sharing" in t
    assert "critical-infrastructure/energy, cyber" in t and "EE, UA" in t


def test_publish_errors_show_code_and_pointer_and_upload_works(console: Console) -> None:
    a = console.sign_in("alpha")
    csrf = csrf_of(a.get("/publish").text)
    base = {"csrf": csrf, "tlp": "amber", "channel": "a-b", "action": "preview"}
    r = a.post("/publish", data={**base, "content": "198.51.100.1\nnot an ioc"})
    assert r.status_code == 400 and "input.ioc" in r.text and "/lines/1" in r.text
    r = a.post("/publish", data={**base, "content": '{"type": "bundle", "id": "x"}'})
    assert r.status_code in (400, 422) and "stix." in r.text and "<code>/" in r.text
    r = a.post("/publish", data={**base, "content": "198.51.100.1", "channel": "",
                                 "recipients": "nobody"})
    assert r.status_code == 400 and "input.unknown_recipient" in r.text and "/to/0" in r.text
    r = a.post("/publish", data={**base, "themes": "astrology", "content": "198.51.100.1"})
    assert "input.theme" in r.text and "/themes/0" in r.text
    for expires in ("99999999999d", "9999-12-31T23:59:59-14:00"):
        r = a.post("/publish", data={**base, "expires": expires, "content": "198.51.100.1"})
        assert r.status_code == 400 and "input.out_of_range" in r.text, expires
    up = {**base, "content": "", "channel": "", "recipients": "charlie"}
    r = a.post("/publish", data=up,
               files={"upload": ("bundle.json", rich_bundle("upload"), "application/json")})
    assert r.status_code == 200 and "member:charlie" in r.text and "C2 server upload" in r.text
    seal = re.search(r'name="previewed" value="([0-9a-f]+)"', r.text)
    text = re.search(r'<textarea[^>]*>(.*?)</textarea>', r.text, re.S)
    assert seal is not None and text is not None
    r = a.post("/publish", data={**up, "action": "send", "previewed": seal.group(1),
                                 "content": html.unescape(text.group(1))})
    assert r.status_code == 303, r.text
    c = console.sign_in("charlie")
    assert "C2 server upload" in c.get(r.headers["location"]).text
    assert console.sign_in("bravo").get(r.headers["location"]).status_code == 404


def test_static_assets_ship_in_the_package(console: Console) -> None:
    c = console.client()
    css = c.get("/static/console/console.css")
    assert css.status_code == 200 and "#33FF00" in css.text and "#FF2B2B" in css.text
    assert c.get("/static/console/console.js").status_code == 200
    assert c.get("/static/console/../routes.py").status_code == 404
    html = console.sign_in("bravo").get("/").text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_stix_view_helpers() -> None:
    assert observables("[file:hashes.'SHA-256' = 'ab\\'c'] AND [url:value != 'x']") == [
        ("file:hashes.'SHA-256'", "ab'c"), ("url:value !=", "x")]
    import json

    v = bundle_view(json.loads(rich_bundle()))
    assert [t["external_id"] for t in v.techniques] == ["T0855"]
    assert len(v.graph.nodes) == 4 and len(v.graph.edges) == 3
    assert all(0 <= n.x <= v.graph.width and 0 <= n.y <= v.graph.height for n in v.graph.nodes)


def test_log_page_shows_the_checkpoint_and_only_entries_the_member_may_see(
        console: Console) -> None:
    sid = publish(console, "alpha", ["a-b"])
    b = console.sign_in("bravo")
    page = b.get("/log")
    assert page.status_code == 200
    size = console.exchange.log.size()
    assert f"<strong>{size}</strong>" in page.text
    assert html.escape(console.exchange.log.checkpoint()[1]).split("\n")[0] in page.text
    assert f"/shares/{sid}" in page.text
    c = console.sign_in("charlie")
    other = c.get("/log").text
    assert f"/shares/{sid}" not in other and sid not in other
    assert "show to you only as hashes" in other
