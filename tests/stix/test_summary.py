"""The terminal summary of a STIX bundle."""

from __future__ import annotations

from typing import Any

from vigil.stix.summary import summarize


def test_counts_and_one_line_per_named_object() -> None:
    bundle: dict[str, Any] = {"objects": [
        {"type": "indicator", "pattern": "[ipv4-addr:value = '198.51.100.1']"},
        {"type": "attack-pattern", "name": "Phishing", "external_references": [
            {"source_name": "capec", "external_id": "CAPEC-98"},
            {"source_name": "mitre-attack", "external_id": "T1566"}]},
        {"type": "malware", "name": "Emotet"},
        {"type": "relationship"},
        {"type": "x-custom"},
        "not an object",
    ]}
    assert summarize(bundle) == [
        "1 indicator, 1 attack-pattern, 1 malware, 1 relationship, 1 x-custom",
        "indicator        [ipv4-addr:value = '198.51.100.1']",
        "attack-pattern   T1566 Phishing",
        "malware          Emotet",
    ]


def test_the_list_stops_at_the_limit() -> None:
    bundle = {"objects": [{"type": "malware", "name": f"m{i}"} for i in range(5)]}
    lines = summarize(bundle, limit=2)
    assert lines == ["5 malware", "malware          m0", "malware          m1",
                     "… and 3 more objects"]
