"""The analyst web console (server-rendered HTML at ``/``).

Every read goes through ``Exchange`` (and so through the one policy function); a share
the member may not read answers the same "not found" page as one that does not exist.
Every page takes its user from one dependency (``deps.SignedIn``), every POST its form
from another (``deps.CheckedForm``)."""

from fastapi import APIRouter

from vigil.web.console import (
    analysis_pages,
    federation_pages,
    feed_pages,
    inbox_pages,
    intel_pages,
    key_pages,
    log_page,
    pages,
    publish_pages,
    share_actions,
    share_page,
    signin_pages,
    sso_pages,
)

router = APIRouter(include_in_schema=False)
for part in (pages, signin_pages, inbox_pages, share_page, publish_pages, log_page,
             share_actions, analysis_pages, feed_pages, sso_pages, key_pages,
             federation_pages, intel_pages):
    router.include_router(part.router)

__all__ = ["router"]
