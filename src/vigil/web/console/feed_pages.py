"""The console's feeds page: the TAXII feeds that publish as the signed-in member (list,
add, pull now, last result). A member sees and pulls only the feeds the access gate
gives it (``Access.feed``: its own); any other feed name answers the same 404 as a
missing one."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import InputError, NotFound, VigilError
from vigil.feeds import registry
from vigil.feeds.registry import Auth, Feed, parse_every
from vigil.node.inputs import check_name
from vigil.policy.access import Access
from vigil.stix.tlp import TLP_ORDER, parse_tlp
from vigil.web.console.deps import CheckedForm, SignedIn
from vigil.web.console.pages import HEADERS, TLP_LABELS, not_found, render
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)


def own_feeds(ex: Any, member: str) -> list[dict[str, Any]]:
    """The member's feeds as shown to it (no secret), each with its latest rejects."""
    gate = Access(ex, member)
    out = []
    for f in registry.list_feeds(ex.store):
        if gate.feed(f.member_id):
            d = f.public()
            d["rejects"] = [r.to_dict() for r in registry.rejects(ex.store, f.name, 5)]
            out.append(d)
    return out


def check_url(url: str) -> str:
    """An http(s) URL without credentials in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url[:80]!r} is not an http(s) URL", code="feed.url", pointer="/url")
    if parts.username is not None:
        raise InputError("give credentials in their fields, not in the URL", code="feed.url",
                         pointer="/url")
    return url


def public_url(url: str) -> str:
    """``check_url``, and its host resolves only to public addresses (a member's feed
    must not make the node fetch from its own network). Resolves: call it off the loop."""
    host = urlsplit(check_url(url)).hostname or ""
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise InputError(f"cannot resolve {host!r}", code="feed.url", pointer="/url") from None
    for info in infos:
        if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global:
            raise InputError(f"{host!r} is not a public address: a console feed may not "
                             "point into the node's own network (an operator adds such a "
                             "feed with `vigil feed add`)", code="feed.url", pointer="/url")
    return url


def _add(ex: Any, member: str, form: Any) -> Feed:
    url = check_url(form.get("url").strip())  # resolved by the caller, off the store
    collection = form.get("collection").strip()
    if not collection:
        raise InputError("give the collection id", code="feed.collection",
                         pointer="/collection")
    level = parse_tlp(form.get("tlp", "amber"))
    to = tuple(t.strip() for t in form.get("to").split(",") if t.strip())
    ex.make_request(member, tlp=level, to=to)  # the audience must make sense now
    name = check_name(form.get("name").strip().lower() or
                      f"{ex.directory().members[member].name}-{collection[:8]}".lower(), "feed")
    token, user, password = form.get("token"), form.get("user"), form.get("password")
    if token and (user or password):
        raise InputError("give a token or a user and password, not both", code="feed.auth")
    if password and not user:
        raise InputError("a password needs a user", code="feed.auth")
    auth = Auth(user or None, password or None, token or None)
    return registry.add_feed(ex.store, Feed(
        name=name, url=url, collection=collection, member_id=member, tlp=level.value,
        to=to, every=parse_every(form.get("every", "15m") or "15m"), auth=auth))


@router.get("/feeds", response_class=HTMLResponse)
async def feeds(request: Request, who: SignedIn) -> Response:
    return await _page(request, who, None, None, 200)


async def _page(request: Request, who: Any, error: VigilError | None, done: str | None,
                status: int) -> Response:
    st = state_of(request)
    rows = await st.read(own_feeds, st.exchange, who.actor.member)
    chans = await st.read(st.exchange.channels, who.actor.member)
    return render(request, "feeds.html", status=status, who=who, feeds=rows, error=error,
                  done=done, tlps={t.value: TLP_LABELS[t.value] for t in TLP_ORDER},
                  channels=chans)


@router.post("/feeds", response_class=HTMLResponse)
async def add_feed(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    st = state_of(request)
    try:
        await asyncio.to_thread(public_url, form.get("url").strip())
        f = await st.write(_add, st.exchange, who.actor.member, form)
    except VigilError as exc:
        return await _page(request, who, exc, None, exc.status)
    return await _page(request, who, None, f"Feed {f.name} added; it is pulled every "
                       f"{f.public()['every']}.", 200)


@router.post("/feeds/{name}/pull", response_class=HTMLResponse)
async def pull_now(name: str, request: Request, who: SignedIn, form: CheckedForm) -> Response:
    """Pull one of the member's feeds now (404 for any other feed)."""
    from vigil.feeds.pull import pull_claimed  # taxii2-client: only when needed

    st = state_of(request)
    mine = {f["name"] for f in await st.read(own_feeds, st.exchange, who.actor.member)}
    if name not in mine:
        return not_found(request, who, "feed")
    try:
        result = await asyncio.to_thread(pull_claimed, st.exchange, name)
    except NotFound:
        return not_found(request, who, "feed")
    except VigilError as exc:
        return await _page(request, who, exc, None, exc.status)
    if result.recipients:
        await st.bus.ring(tuple(result.recipients))
    return RedirectResponse("/feeds", status_code=303, headers=HEADERS)
