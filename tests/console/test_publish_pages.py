"""Publishing from the console: preview, then send only what was previewed."""

from __future__ import annotations

import html
import re

from .conftest import Console, csrf_of, rich_bundle


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
    r = a.post("/publish", data={**base, "content": "not an ioc\n# a comment\nnor this"})
    assert r.status_code == 400 and "input.ioc" in r.text and "/lines/0" in r.text
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


def test_paste_with_unread_lines_publishes_what_was_found_after_confirming(
        console: Console) -> None:
    a = console.sign_in("alpha")
    form = {"csrf": csrf_of(a.get("/publish").text), "tlp": "amber", "channel": "a-b",
            "content": "198.51.100[.]41\nsee the attached report\nhxxps://bad[.]example/p\n"
                       "ask Bob about it"}
    pre = a.post("/publish", data={**form, "action": "preview"})
    assert pre.status_code == 200, pre.text
    table = re.search(r'<table class="grid" id="unread">(.*?)</table>', pre.text, re.S)
    assert table is not None and "2 line(s) hold no indicator" in table.group(1)
    rows = re.findall(r"<tr><td>(\d+)</td><td><code>(.*?)</code>", table.group(1))
    assert rows == [("2", "see the attached report"), ("4", "ask Bob about it")]
    assert list(console.exchange.sent(console.id("alpha"))) == []  # the preview sends nothing
    seal = re.search(r'name="previewed" value="([0-9a-f]+)"', pre.text)
    assert seal is not None
    sent = a.post("/publish", data={**form, "action": "send", "previewed": seal.group(1)})
    assert sent.status_code == 303, sent.text
    t = console.sign_in("bravo").get(sent.headers["location"]).text
    assert "ipv4-addr:value <code>198.51.100.41</code>" in t
    assert "url:value <code>https://bad.example/p</code>" in t
    assert "attached report" not in t and "Bob" not in t
