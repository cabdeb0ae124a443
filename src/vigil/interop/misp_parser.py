"""misp-stix's MISP -> STIX 2.1 parser, without stix2's own parse of every pattern.

stix2's ``Indicator`` runs the ANTLR pattern grammar on each pattern it is built with;
in a MISP import that is most of the conversion's time, and vigil's validator checks
every converted object's pattern again anyway (``vigil.stix.validate.check_object``,
whose refusals are reported as losses one by one). This parser is misp-stix's own,
creating its indicators with an ``Indicator`` that keeps stix2's other checks and
leaves the pattern to vigil's validator: the conversion itself stays misp-stix's.
The converted objects are read straight from the parser (:func:`objects_of`), not
through a stix2 ``Bundle``, which would build every object a second time.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import orjson


@cache
def parser_class() -> Any:
    from misp_stix_converter import MISPtoSTIX21Parser
    from stix2.exceptions import InvalidValueError
    from stix2.v21 import Indicator

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

    return Parser


def objects_of(parser: Any) -> list[dict[str, Any]]:
    """The STIX objects a parser converted, as JSON objects: stix2's own serialiser
    over the parser's list, what ``parser.bundle.serialize()`` gives for its objects."""
    from stix2.serialization import STIXJSONEncoder

    out: list[dict[str, Any]] = orjson.loads(json.dumps(parser.stix_objects,
                                                        cls=STIXJSONEncoder))
    return out
