"""misp-stix's MISP -> STIX 2.1 parser, without stix2's own parse of every pattern.

stix2's ``Indicator`` runs the ANTLR pattern grammar on each pattern it is built with;
in a MISP import that is most of the conversion's time, and vigil's validator checks
every converted object's pattern again anyway (``vigil.stix.validate.check_object``,
whose refusals are reported as losses one by one). This parser is misp-stix's own,
creating its indicators with an ``Indicator`` that keeps stix2's other checks and
leaves the pattern to vigil's validator: the conversion itself stays misp-stix's.
The converted objects are read straight from the parser (:func:`objects_of`), not
through a stix2 ``Bundle``, which would build every object a second time.

With ``fast`` (the default), the plain attributes of the common types are written by
:mod:`vigil.interop.misp_fast`, and the plain MISP objects of the common templates by
:mod:`vigil.interop.misp_objects`, instead, without PyMISP's load or stix2 objects:
PyMISP loads the event without them, and the parser puts their objects in their place,
in the event's order (before and after them, misp-stix's own; an object's references
made relationships by misp-stix). Relationships with plain arguments are written
directly too (:func:`vigil.interop.misp_objects.relationship`). An event with an event report
(misp-stix names objects differently there) or with attributes without a uuid of their
own, or sharing one, is misp-stix's whole.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from typing import Any

import orjson

from vigil.interop.misp_fast import Fast, Ready, container, created_by, fast_attribute
from vigil.interop.misp_galaxies import plain_galaxies, plain_tags
from vigil.interop.misp_objects import (
    LoadedObject,
    fast_object,
    loaded_object,
    relationship,
)
from vigil.interop.misp_sdo import custom_attribute, ready
from vigil.interop.misp_templates import FastObject


def _ready_or(cls: Any, args: dict[str, Any], build: Any) -> Any:
    """The object written directly when its arguments are plain, else stix2's."""
    out = ready(cls, args)
    return out if out is not None else build(args)


class _Timed(Ready):
    """An object written directly that answers misp-stix's ``.created`` and
    ``.modified`` as a stix2 object does: the times it was written from (misp-stix
    dates the relationships of an indicator by its ``modified``)."""

    def __init__(self, written: Ready, created: Any, modified: Any) -> None:
        super().__init__(written)
        self.created, self.modified = created, modified


class _WithContext(dict[str, Any]):
    """A loaded event whose tags and galaxies are the JSON items themselves."""

    def __init__(self, loaded: Any, context: dict[str, Any]) -> None:
        super().__init__(context)
        self._loaded = loaded

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key) if key in self.keys() else self._loaded[key]

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, default) if key in self.keys() else \
            self._loaded.get(key, default)


@cache
def parser_class(fast: bool = True) -> Any:
    from misp_stix_converter import MISPtoSTIX21Parser
    from misp_stix_converter.misp2stix.misp_to_stix21 import (
        CustomAttribute,
        CustomGalaxyCluster,
        CustomMispObject,
    )
    from stix2.exceptions import InvalidValueError
    from stix2.v21 import (
        AttackPattern,
        Campaign,
        CourseOfAction,
        Grouping,
        Identity,
        Indicator,
        IntrusionSet,
        Malware,
        ThreatActor,
        Tool,
        Vulnerability,
    )

    class PatternCheckedLater(Indicator):  # type: ignore[misc]
        def _check_object_constraints(self) -> None:
            # stix2's checks of an indicator but its pattern parse (Indicator's
            # parent first, then the validity window, as Indicator does)
            super(Indicator, self)._check_object_constraints()
            start, until = self.get("valid_from"), self.get("valid_until")
            if start and until and until <= start:
                raise InvalidValueError(self.__class__, "valid_until",
                                        "must be greater than valid_from")

    class Parser(MISPtoSTIX21Parser):  # type: ignore[misc]
        @staticmethod
        def _create_indicator(indicator_args: dict[str, Any]) -> Any:
            indicator_args["spec_version"] = "2.1"
            indicator_args.setdefault("pattern_type", "stix")
            if indicator_args.get("pattern_version") is None:
                indicator_args["pattern_version"] = "2.1"
            return PatternCheckedLater(**indicator_args)

    if not fast:
        return Parser

    class FastParser(Parser):
        _plan: list[tuple[Fast | None, dict[str, Any]]] | None = None
        _object_plan: list[tuple[FastObject | None, dict[str, Any]]] | None = None
        _fast_names: dict[str, str] | None = None
        _context: dict[str, list[dict[str, Any]]] | None = None
        _misp_event: Any  # misp-stix's loaded event
        _loaded_objects: dict[str, LoadedObject] = {}  # noqa: RUF012 (set per event)

        def _load_misp_event(self, misp_event: dict[str, Any], errors: Any) -> Any:
            self._plan, self._object_plan, self._fast_names = None, None, None
            self._context, self._loaded_objects = None, {}
            ev = misp_event.get("Event", misp_event)
            if isinstance(ev, dict) and ev.get("RelatedEvent"):
                # summaries of other events, which misp-stix never reads: PyMISP would
                # load each as an event of its own
                ev = {k: v for k, v in ev.items() if k != "RelatedEvent"}
                misp_event = {"Event": ev}
            attributes = ev.get("Attribute") if isinstance(ev, dict) else None
            objects = ev.get("Object") or [] if isinstance(ev, dict) else None
            if ev.get("EventReport") or not isinstance(attributes, list) or \
                    not isinstance(objects, list):
                return super()._load_misp_event(misp_event, errors)
            uuids = [a.get("uuid") if isinstance(a, dict) else None for a in attributes]
            if any(not isinstance(u, str) for u in uuids) or len(set(uuids)) < len(uuids):
                return super()._load_misp_event(misp_event, errors)
            ouuids = [o.get("uuid") if isinstance(o, dict) else None for o in objects]
            if any(not isinstance(u, str) for u in ouuids) or \
                    len(set(ouuids)) < len(ouuids):
                return super()._load_misp_event(misp_event, errors)
            plan = [(fast_attribute(self, a) or custom_attribute(self, a), a)
                    for a in attributes]
            object_plan = [(fast_object(self, o), o) for o in objects]
            rest = [a for f, a in plan if f is None]
            self._loaded_objects = {}
            for f, o in object_plan:
                ready_object = loaded_object(o) if f is None else None
                if ready_object is not None:
                    self._loaded_objects[o["uuid"]] = ready_object
            rest_objects = [o for f, o in object_plan if f is None and
                            o["uuid"] not in self._loaded_objects]
            tags, galaxies = plain_tags(ev.get("Tag")), plain_galaxies(ev.get("Galaxy"))
            context = None if tags is None or galaxies is None else \
                {"Tag": tags, "Galaxy": galaxies}
            if len(rest) == len(plan) and len(rest_objects) == len(object_plan) and \
                    context is None:
                return super()._load_misp_event(misp_event, errors)
            self._plan, self._object_plan, self._context = plan, object_plan, context
            self._fast_names = {o["uuid"]: o["name"] for f, o in object_plan
                                if f is not None or o["uuid"] in self._loaded_objects}
            event = {**ev, "Attribute": rest, "Object": rest_objects}
            if context is not None:  # misp-stix reads them as they are
                event.pop("Tag", None)
                event.pop("Galaxy", None)
            return super()._load_misp_event({"Event": event}, errors)

        def _handle_event_tags_and_galaxies(self) -> Any:
            context, self._context = self._context, None
            if context is None:
                return super()._handle_event_tags_and_galaxies()
            loaded = self._misp_event
            self._misp_event = _WithContext(loaded, context)
            try:
                return super()._handle_event_tags_and_galaxies()
            finally:
                self._misp_event = loaded

        def _handle_attributes_and_objects(self) -> None:
            plan, self._plan = self._plan, None
            if plan is None:
                super()._handle_attributes_and_objects()
                return
            loaded = {a["uuid"]: a for a in self._misp_event.get("Attribute") or ()}
            identity = self.shared_args.get("created_by_ref")
            for fast, attribute in plan:
                if fast is None:
                    if attribute["uuid"] in loaded:  # else PyMISP refused it (an error)
                        self._resolve_attribute(loaded[attribute["uuid"]])
                    continue
                created_by(fast, identity)
                fast.mark(self)
                self.stix_objects.extend(fast.objects)
                self.object_refs.extend(fast.refs)
                if fast.relationship is not None:
                    self.relationships.append(fast.relationship)
            if not self._object_plan:
                return
            loaded_objects = {o["uuid"]: o for o in self._misp_event.get("Object") or ()}
            to_parse: Any = defaultdict(dict)
            self._objects_to_parse = to_parse
            for fast_obj, misp_object in self._object_plan:
                if fast_obj is None:
                    uid = misp_object["uuid"]
                    if uid in self._loaded_objects:  # misp-stix's, from its JSON
                        self._resolve_object(self._loaded_objects[uid])
                    elif uid in loaded_objects:  # else PyMISP refused it
                        self._resolve_object(loaded_objects[uid])
                    continue
                self._put_object(fast_obj, misp_object, identity)
            if self._objects_to_parse:
                self._resolve_objects_to_parse()

        def _put_object(self, fast: FastObject, misp_object: dict[str, Any],
                        identity: str | None) -> None:
            """One object's STIX objects where misp-stix puts them, its references
            made relationships by misp-stix (before the indicator's, as it does)."""
            created_by(fast, identity)
            self.stix_objects.extend(fast.objects)
            self.object_refs.extend(fast.refs)
            if misp_object.get("ObjectReference"):
                self._parse_object_relationships(
                    misp_object["ObjectReference"],
                    {"id": fast.observed, "type": "observed-data",
                     "modified": fast.modified})
            if fast.relationship is not None:
                self.relationships.append(fast.relationship)

        def _find_object_name(self, uuid: str) -> str | None:
            name = super()._find_object_name(uuid)
            return name if name is not None or not self._fast_names else \
                self._fast_names.get(uuid)

        @staticmethod
        def _create_indicator(indicator_args: dict[str, Any]) -> Any:
            indicator_args["spec_version"] = "2.1"
            indicator_args.setdefault("pattern_type", "stix")
            if indicator_args.get("pattern_version") is None:
                indicator_args["pattern_version"] = "2.1"
            out = ready(Indicator, indicator_args)
            if out is None:
                return Parser._create_indicator(indicator_args)
            return _Timed(out, indicator_args["created"], indicator_args["modified"])

        @staticmethod
        def _create_relationship(relationship_args: dict[str, Any]) -> Any:
            if isinstance(relationship_args, Ready):
                return relationship_args
            ready = relationship(relationship_args)
            return ready if ready is not None else \
                Parser._create_relationship(relationship_args)

        # the objects of galaxy clusters and the event's identity (misp_sdo)
        @staticmethod
        def _create_attack_pattern(args: dict[str, Any]) -> Any:
            return _ready_or(AttackPattern, args, Parser._create_attack_pattern)

        @staticmethod
        def _create_campaign(args: dict[str, Any]) -> Any:
            return _ready_or(Campaign, args, Parser._create_campaign)

        @staticmethod
        def _create_course_of_action(args: dict[str, Any]) -> Any:
            return _ready_or(CourseOfAction, args, Parser._create_course_of_action)

        @staticmethod
        def _create_custom_galaxy(args: dict[str, Any]) -> Any:
            return _ready_or(CustomGalaxyCluster, args, Parser._create_custom_galaxy)

        def _create_custom_attribute(self, args: dict[str, Any]) -> Any:
            self._clean_custom_properties(args)  # misp-stix's check of the labels
            return _ready_or(CustomAttribute, args, lambda a: CustomAttribute(**a))

        def _create_custom_object(self, args: dict[str, Any]) -> Any:
            self._clean_custom_properties(args)  # misp-stix's check of the labels
            return _ready_or(CustomMispObject, args, lambda a: CustomMispObject(**a))

        @staticmethod
        def _create_identity(args: dict[str, Any]) -> Any:
            return _ready_or(Identity, args, Parser._create_identity)

        @staticmethod
        def _create_intrusion_set(args: dict[str, Any]) -> Any:
            return _ready_or(IntrusionSet, args, Parser._create_intrusion_set)

        @staticmethod
        def _create_malware(args: dict[str, Any]) -> Any:
            if "is_family" not in args:  # misp-stix's default
                args["is_family"] = False
            return _ready_or(Malware, args, Parser._create_malware)

        @staticmethod
        def _create_threat_actor(args: dict[str, Any]) -> Any:
            return _ready_or(ThreatActor, args, Parser._create_threat_actor)

        @staticmethod
        def _create_tool(args: dict[str, Any]) -> Any:
            return _ready_or(Tool, args, Parser._create_tool)

        @staticmethod
        def _create_vulnerability(args: dict[str, Any]) -> Any:
            return _ready_or(Vulnerability, args, Parser._create_vulnerability)

        @staticmethod
        def _create_report(report_args: dict[str, Any]) -> Any:
            ready = container(report_args)
            return ready if ready is not None else Parser._create_report(report_args)

        def _handle_unpublished_report(self, report_args: dict[str, Any]) -> Any:
            # misp-stix's own (MISPtoSTIX21Parser), with the grouping from container()
            grouping_id = f"grouping--{self._misp_event['uuid']}"
            if not self.object_refs:
                self._handle_empty_object_refs(grouping_id, report_args["modified"])
            report_args.update({"id": grouping_id, "type": "grouping",
                                "context": "suspicious-activity", "allow_custom": True})
            self._handle_analyst_data(report_args)
            report_args["object_refs"] = self.object_refs
            ready = container(report_args)
            return ready if ready is not None else Grouping(**report_args)

    return FastParser


def objects_of(parser: Any) -> list[dict[str, Any]]:
    """The STIX objects a parser converted, as JSON objects: stix2's own serialiser
    over the parser's list, what ``parser.bundle.serialize()`` gives for its objects."""
    from stix2.serialization import STIXJSONEncoder

    objects = parser.stix_objects
    built = [o for o in objects if not isinstance(o, Ready)]
    done = iter(orjson.loads(json.dumps(built, cls=STIXJSONEncoder)) if built else ())
    return [dict(o) if isinstance(o, Ready) else next(done) for o in objects]
