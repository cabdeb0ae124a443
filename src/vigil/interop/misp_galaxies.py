"""MISP tags and galaxies that misp-stix can read as they are, without PyMISP's load.

misp-stix loads an event's tags and galaxies with PyMISP (a ``MISPTag``, ``MISPGalaxy``
and ``MISPGalaxyCluster`` per item) and then reads only a few of their fields: a tag's
name, a galaxy's type, name, description and clusters, a cluster's uuid, type, value,
description, meta and tag name. For tags and galaxies PyMISP loads unchanged, the
parser (:mod:`vigil.interop.misp_parser`) hands misp-stix the JSON items themselves,
and misp-stix converts them with its own functions (each cluster's STIX object, the
tags' labels and markings); the objects themselves are written by
:mod:`vigil.interop.misp_sdo`.

Loaded unchanged means: a tag is an object with a name of its own (PyMISP keeps one of
two equal tags: names must differ); a galaxy has a type, a name and a description and
a list of clusters, each with a uuid, a type and a value, a distribution PyMISP reads
(0 to 3), and none of the parts PyMISP loads into objects of their own (elements,
relations, organisations, sharing groups); no field of either is ``null`` (PyMISP
leaves those out).
"""

from __future__ import annotations

import re
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CLUSTER_PARTS = ("Galaxy", "GalaxyElement", "GalaxyClusterRelation", "Org", "Orgc",
                  "SharingGroup", "sharing_group_id", "GalaxyCluster")
_DISTRIBUTIONS = ("0", "1", "2", "3")


def plain_tags(tags: Any) -> list[dict[str, Any]] | None:
    """The tags as misp-stix reads them after PyMISP's load, or None when PyMISP would
    change them."""
    if tags is None:
        return []
    if not isinstance(tags, list):
        return None
    names = set()
    for tag in tags:
        if not isinstance(tag, dict) or "Tag" in tag or \
                any(v is None for v in tag.values()):
            return None
        name = tag.get("name")
        if not isinstance(name, str) or not name or name in names:
            return None
        names.add(name)
    return tags


def _plain_cluster(cluster: Any) -> bool:
    if not isinstance(cluster, dict) or any(v is None for v in cluster.values()):
        return False
    if any(k in cluster for k in _CLUSTER_PARTS):
        return False
    if not isinstance(cluster.get("uuid"), str) or not _UUID.fullmatch(cluster["uuid"]):
        return False
    if not isinstance(cluster.get("type"), str) or not isinstance(cluster.get("value"), str):
        return False
    if str(cluster.get("distribution", "0")) not in _DISTRIBUTIONS or \
            isinstance(cluster.get("distribution"), bool):
        return False
    if "description" in cluster and not isinstance(cluster["description"], str):
        return False
    if "tag_name" in cluster and not isinstance(cluster["tag_name"], str):
        return False
    return "meta" not in cluster or isinstance(cluster["meta"], dict)


def plain_galaxies(galaxies: Any) -> list[dict[str, Any]] | None:
    """The galaxies as misp-stix reads them after PyMISP's load, or None when PyMISP
    would change them."""
    if galaxies is None:
        return []
    if not isinstance(galaxies, list):
        return None
    for galaxy in galaxies:
        if not isinstance(galaxy, dict) or any(v is None for v in galaxy.values()):
            return None
        if "Galaxy" in galaxy or "withCluster" in galaxy:
            return None
        if not all(isinstance(galaxy.get(k), str) for k in ("type", "name", "description")):
            return None
        clusters = galaxy.get("GalaxyCluster")
        if not isinstance(clusters, list) or not all(_plain_cluster(c) for c in clusters):
            return None
    return galaxies
