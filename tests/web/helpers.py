"""Bodies and calls the REST tests share: a STIX indicator and its bundle, a publish that
must succeed, the SDK over the in-process app, a share signed in a member's client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.web.conftest import Api

from vigil.client import Client
from vigil.model import Audience, Form, Handling, Tlp
from vigil.protocol.envelope import build_share, envelope_to_json
from vigil.testing import stix

TS = "2026-11-29T08:00:00.000Z"


def indicator(**extra: object) -> dict[str, object]:
    return stix.indicator("192.0.2.1", at=TS, **extra)


def bundle_text(*objs: dict[str, object]) -> str:
    return json.dumps(stix.bundle_doc(*objs))


GOOD = bundle_text(indicator())


def publish(api: Api, who: str, body: str = GOOD, **params: object) -> dict[str, object]:
    r = api.client.post("/api/v1/shares", params=params, content=body.encode(),
                        headers=api.h(who))
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def sdk(api: Api, who: str, state: Path | None = None) -> Client:
    return Client("http://testserver", api.node.members[who].token,
                  transport=api.client._transport, log_state=state)


def client_envelope(api: Api, who: str, bundle: str, *, tlp: str = "clear",
                    to: tuple[str, ...] = ("everyone",), **kw: Any) -> dict[str, Any]:
    pv = api.client.post("/api/v1/preview", json={"tlp": tlp, "to": list(to)},
                         headers=api.h(who)).json()
    recipients = tuple(r["id"] for r in pv["recipients"])
    m = api.node.members[who]
    args: dict[str, Any] = {
        "plaintext": bundle.encode(), "originator": m.id,
        "audience": Audience(Tlp(tlp), pv["audience"]["channel"], recipients),
        "recipients": recipients, "form": Form(pv["form"]),
        "handling": Handling(None, False, ()), "themes": (), "regions": (), "expires": None,
        "signer_private": m.keyring.sign_private, "signer_key_id": m.keyring.sign_key_id,
        "recipient_keys": {}}
    args.update(kw)
    return envelope_to_json(build_share(**args))
