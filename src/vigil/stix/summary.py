"""Plain-text lines that describe a STIX bundle for a terminal."""

from __future__ import annotations

from collections import Counter
from typing import Any


def _ext_id(obj: dict[str, Any]) -> str:
    for ref in obj.get("external_references", []) or []:
        if isinstance(ref, dict) and ref.get("source_name", "").startswith("mitre") and \
                ref.get("external_id"):
            return f"{ref['external_id']} "
    return ""


def summarize(bundle: dict[str, Any], limit: int = 25) -> list[str]:
    objects = [o for o in bundle.get("objects", []) if isinstance(o, dict)]
    counts = Counter(str(o.get("type")) for o in objects)
    lines = [", ".join(f"{n} {t}" for t, n in counts.most_common())]
    shown = 0
    for o in objects:
        if shown >= limit:
            lines.append(f"… and {len(objects) - shown} more objects")
            break
        t = o.get("type")
        if t == "relationship":
            continue
        if t == "indicator":
            lines.append(f"indicator        {o.get('pattern', '')}")
        elif t in ("attack-pattern", "malware", "tool", "intrusion-set", "threat-actor",
                   "campaign", "course-of-action", "identity", "report", "vulnerability",
                   "infrastructure", "location"):
            lines.append(f"{t:<16} {_ext_id(o)}{o.get('name', '')}")
        else:
            continue
        shown += 1
    return lines
