"""Command-line option types that read numbers with vigil.params: the CLI accepts and
refuses exactly what the API does, with the same codes (printed as ``error [code]``)."""

from __future__ import annotations

import click

from vigil import params


class Number(click.ParamType[int, object]):
    """A decimal integer in ASCII digits within ``lo..hi``; a refusal is vigil's
    ``InputError`` (``input.bad_number`` or ``input.out_of_range``)."""

    name = "integer"

    def __init__(self, lo: int = 0, hi: int = params.MAX_INT) -> None:
        self.lo = lo
        self.hi = hi

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        name = (param.name if param is not None and param.name else "value").replace("_", "-")
        return params.number(str(value), name, lo=self.lo, hi=self.hi)


CURSOR = Number()  # a seq already read, a log index
COUNT = Number(lo=1)  # a tree size
LIMIT = Number(lo=1, hi=1000)  # a page
