"""The console's dependencies: the signed-in user of a page (``SignedIn``) and a POST's
form read within the size limit with its CSRF token checked (``CheckedForm``); a request
that has neither ends early (``Stop``) at the sign-in page or a refusal."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from vigil.errors import VigilError
from vigil.model import (
    Actor,
    Member,
)
from vigil.web import scopes
from vigil.web.auth import SESSION_COOKIE, Session, sessions
from vigil.web.console.forms import Form, parse_form
from vigil.web.console.pages import (
    error_page,
    to_signin,
)
from vigil.web.deps import State, read_body, state_of
from vigil.web.observe import route_of

PRE_CSRF_COOKIE = "vigil_signin_csrf"


@dataclass(frozen=True, slots=True)
class Who:
    actor: Actor
    session: Session
    member: Member


async def signed_in(request: Request) -> Who | None:
    """The member and user behind the session cookie, authenticated afresh."""
    st = state_of(request)
    s = await st.read(sessions(st.exchange).get, request.cookies.get(SESSION_COOKIE))
    if s is None:
        return None
    scopes.require(s.actor, request.method, route_of(request.scope, frozenset()))
    return Who(s.actor, s, st.exchange.directory().members[s.actor.member])


async def read_form(request: Request, st: State) -> Form:
    raw = await read_body(request, int(st.settings.max_body) + 64 * 1024)
    return parse_form(request.headers.get("content-type", ""), raw)


def csrf_ok(expected: str, form: Form) -> bool:
    got = form.get("csrf")
    return bool(expected) and bool(got) and hmac.compare_digest(got.encode(), expected.encode())


def csrf_refused(request: Request, who: Who | None) -> HTMLResponse:
    return error_page(request, who, VigilError(
        "the form's CSRF token is missing or stale; reload the page and try again",
        code="auth.csrf", status=403))


class Stop(Exception):
    """Ends a console request before its handler runs, with a ready response: the way to
    the sign-in page, or the refusal of a form whose CSRF token is wrong."""

    def __init__(self, response: Response) -> None:
        super().__init__("console request answered early")
        self.response = response


async def stopped(request: Request, exc: Exception) -> Response:
    """The app's handler of ``Stop``."""
    assert isinstance(exc, Stop)
    return exc.response


async def _signed_in_or_stop(request: Request) -> Who:
    who = await signed_in(request)
    if who is None:
        raise Stop(to_signin())
    return who


# A console page's user: signed in (else the request goes to the sign-in page)
SignedIn = Annotated[Who, Depends(_signed_in_or_stop)]


async def _checked_form(request: Request, who: SignedIn) -> Form:
    form = await read_form(request, state_of(request))
    if not csrf_ok(who.session.csrf, form):
        raise Stop(csrf_refused(request, who))
    return form


# A console POST's form, read within the size limit, its CSRF token checked
CheckedForm = Annotated[Form, Depends(_checked_form)]


