"""The push path reads the inboxes of every stream woken together with one store read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from vigil.web.batch import BATCH, Page, PageBatcher


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.mark.parametrize("coalesce", [0.0, 0.005])
async def test_requests_made_together_are_one_read(coalesce: float) -> None:
    calls: list[list[tuple[str, int]]] = []

    def pages(reqs: Sequence[tuple[str, int]], limit: int) -> list[Page]:
        assert limit == BATCH
        calls.append(list(reqs))
        return [([], after + 1, False) for _, after in reqs]

    b = PageBatcher(inline, pages, coalesce)
    got = await asyncio.gather(*(b.page(f"m{i}", i * 10) for i in range(5)))
    assert calls == [[(f"m{i}", i * 10) for i in range(5)]]
    assert [cursor for _, cursor, _ in got] == [1, 11, 21, 31, 41]
    await b.page("later", 7)  # a request after the batch is a read of its own
    assert calls[-1] == [("later", 7)]


async def test_a_failed_read_fails_every_request_of_the_batch() -> None:
    def pages(reqs: Sequence[tuple[str, int]], limit: int) -> list[Page]:
        raise RuntimeError("store down")

    b = PageBatcher(inline, pages)
    results = await asyncio.gather(b.page("a", 0), b.page("b", 0), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_one_bad_request_fails_alone() -> None:
    calls: list[list[tuple[str, int]]] = []

    def pages(reqs: Sequence[tuple[str, int]], limit: int) -> list[Page]:
        calls.append(list(reqs))
        if any(after >= 2**63 for _, after in reqs):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return [([], after + 1, False) for _, after in reqs]

    b = PageBatcher(inline, pages)
    results = await asyncio.gather(b.page("a", 1), b.page("evil", 2**64), b.page("c", 3),
                                   return_exceptions=True)
    assert results[0] == ([], 2, False) and results[2] == ([], 4, False)
    assert isinstance(results[1], OverflowError)
    assert calls[0] == [("a", 1), ("evil", 2**64), ("c", 3)]  # still one read when all is well


async def test_the_after_read_is_one_per_batch_and_comes_after_its_pages() -> None:
    """The streams' credential epoch: read once for the batch, after its inbox read
    (a revocation committed before the pages were read is seen), given with each page."""
    calls: list[str] = []

    def pages(reqs: Sequence[tuple[str, int]], limit: int) -> list[Page]:
        calls.append("pages")
        return [([], after + 1, False) for _, after in reqs]

    def after() -> str:
        calls.append("after")
        return f"epoch-{len(calls)}"

    b: PageBatcher[str] = PageBatcher(inline, pages, after=after)
    got = await asyncio.gather(*(b.page_after(f"m{i}", i) for i in range(3)))
    assert calls == ["pages", "after"]
    assert got == [(([], i + 1, False), "epoch-2") for i in range(3)]
    assert await b.page("m", 5) == ([], 6, False)  # page alone still gives the page
    assert calls == ["pages", "after", "pages", "after"]
