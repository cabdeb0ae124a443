"""MISP tags to vigil's TLP (the narrowest of several), handling codes (the handling
namespaces, lower case, quotes dropped) and plain labels."""

from __future__ import annotations

from vigil.interop.misp_tags import code_of, read_tags
from vigil.model import Tlp


def test_tags_to_tlp_and_handling() -> None:
    m = read_tags(["tlp:white", "TLP:AMBER+STRICT", "PAP:GREEN", "europol-event:x",
                   'admiralty-scale:information-credibility="2"', "malware:emotet"])
    assert m.tlp is Tlp.AMBER_STRICT
    assert m.codes == ("admiralty-scale:information-credibility=2", "europol-event:x",
                       "pap:green")
    assert m.labels == ("malware:emotet",)
    assert read_tags([]).tlp is None


def test_handling_namespaces_only() -> None:
    assert code_of('PAP:AMBER') == "pap:amber"
    assert code_of("europol-incident:malware") == "europol-incident:malware"
    assert code_of('iep2-policy:permitted-actions="none"') == "iep2-policy:permitted-actions=none"
    assert code_of("cnsd:x") == "cnsd:x"
    assert code_of("papa:x") is None and code_of("europolx:y") is None
    assert code_of("malware:emotet") is None
    assert code_of("pap:" + "x" * 500) is None  # longer than a header token
    m = read_tags(["tlp:red", "tlp:green", "tlp:unknown", "x", "x"])
    assert m.tlp is Tlp.RED and m.labels == ("tlp:unknown", "x") and m.codes == ()
