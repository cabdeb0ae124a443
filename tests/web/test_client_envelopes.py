"""A share signed in a member's client passes the same checks as one the node signs:
markings against its TLP, known themes and regions, and a `created` near the node's
clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.web.conftest import Api
from tests.web.helpers import bundle_text, client_envelope, indicator

from vigil import clock

RED_20 = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


def post(api: Api, env: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/envelopes", json=env, headers=api.h("alpha"))


def test_a_well_formed_client_envelope_is_accepted(api: Api) -> None:
    r = post(api, client_envelope(api, "alpha", bundle_text(indicator()),
                                  themes=("cyber",), regions=("EE",)))
    assert r.status_code == 201, r.text


def test_red_marked_objects_in_a_clear_envelope_are_refused(api: Api) -> None:
    red = bundle_text(indicator(object_marking_refs=[RED_20]))
    r = api.client.post("/api/v1/shares", params={"tlp": "clear", "to": "everyone"},
                        content=red.encode(), headers=api.h("alpha"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.tlp_below_marking"
    r = post(api, client_envelope(api, "alpha", red))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "policy.tlp_below_marking"
    assert api.exchange.store.share_count() == 0


def test_created_far_from_the_clock_is_refused(api: Api) -> None:
    now = datetime.now(UTC)
    for created in ("1970-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z",
                    clock.fmt(now - timedelta(days=2)), clock.fmt(now + timedelta(hours=1))):
        r = post(api, client_envelope(api, "alpha", bundle_text(indicator()), created=created))
        assert r.status_code == 400, (created, r.text)
        assert r.json()["error"] == {"code": "envelope.created", "pointer": "/header/created",
                                     "message": r.json()["error"]["message"]}
    assert api.exchange.store.share_count() == 0


def test_unknown_themes_and_regions_in_a_client_envelope_are_refused(api: Api) -> None:
    for kw, code in (({"themes": ("weather",)}, "input.theme"),
                     ({"themes": ("Cyber",)}, "input.theme"),
                     ({"regions": ("!!",)}, "input.region")):
        r = post(api, client_envelope(api, "alpha", bundle_text(indicator()), **kw))
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (kw, r.text)
    assert api.exchange.store.share_count() == 0


def test_preview_and_publish_agree_on_themes(api: Api) -> None:
    good = bundle_text(indicator())
    for theme in ("cyber/" + "x" * 300, "cyber/a\u0001b", "cyber/", "cyber//x", "weather"):
        pv = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["a-b"],
                                                      "themes": [theme]}, headers=api.h("alpha"))
        pub = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b",
                                                        "theme": theme},
                              content=good.encode(), headers=api.h("alpha"))
        assert pv.status_code == pub.status_code == 400, (theme, pv.text, pub.text)
        assert pv.json()["error"]["code"] == pub.json()["error"]["code"] == "input.theme"
    pv = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["a-b"],
                                                  "themes": ["Cyber/Ransomware Gangs"]},
                         headers=api.h("alpha"))
    assert pv.status_code == 200 and pv.json()["themes"] == ["cyber/ransomware gangs"]
    assert api.exchange.store.share_count() == 0
