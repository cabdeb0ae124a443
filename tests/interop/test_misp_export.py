"""A share's STIX bundle as a MISP event: what misp-stix reads, the comments it does not
read back put back, and an object it cannot parse listed as a loss."""

from __future__ import annotations

import orjson

from vigil.interop.misp import to_stix
from vigil.interop.misp_export import to_misp

T = "2024-06-01T00:00:00.000Z"
U = "6a0d5cac-2ef4-4bae-baa4-000000000001"


def test_a_bundle_as_an_event_with_its_comments_and_losses() -> None:
    bundle = {"type": "bundle", "id": "bundle--6a0d5cac-2ef4-4bae-baa4-000000000000",
              "objects": [
                  {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{U}",
                   "created": T, "modified": T, "valid_from": T, "pattern_type": "stix",
                   "pattern": "[ipv4-addr:value = '198.51.100.1']",
                   "description": "seen at the border"},
                  {"type": "indicator", "id": "indicator--bad"}]}
    event, losses = to_misp(orjson.dumps(bundle))
    [attr] = event["Event"]["Attribute"]
    assert (attr["uuid"], attr["type"], attr["value"]) == (U, "ip-dst", "198.51.100.1")
    assert attr["comment"] == "seen at the border"
    [loss] = losses
    assert (loss.pointer, loss.stix_id, loss.code) == (
        "/objects/1", "indicator--bad", "misp.unparsable")


ORG = {"name": "ORG", "uuid": "5a0d5bf4-99c8-4f15-9879-22b1950d2100"}


def test_comments_misp_stix_does_not_read_back_are_put_back() -> None:
    attrs = [{"uuid": f"5a0d5cac-2ef4-4bae-baa4-00000000000{i}", "type": kind, "value": value,
              "category": "Network activity", "to_ids": i == 1, "timestamp": "1510922092",
              "comment": comment}
             for i, kind, value, comment in [(1, "ip-dst", "198.51.100.1", "at the border"),
                                             (2, "domain", "a.example", "parked")]]
    event = {"Event": {"uuid": "5a0d5bf4-99c8-4f15-9879-22b1950d210f", "info": "x",
                       "timestamp": "1511183733", "date": "2017-11-14", "Orgc": ORG,
                       "analysis": "2", "threat_level_id": "3", "published": False,
                       "Attribute": attrs}}
    objects, _ = to_stix(event)  # the STIX misp-stix writes: read by its internal parser
    bundle = {"type": "bundle", "id": "bundle--5a0d5bf4-99c8-4f15-9879-22b1950d210f",
              "objects": objects}
    back, losses = to_misp(orjson.dumps(bundle))
    ev = back["Event"]
    assert [(a["value"], a["comment"]) for a in ev["Attribute"]] == [
        ("198.51.100.1", "at the border"), ("a.example", "parked")]
    assert losses == []
