"""The analyst web console (server-rendered HTML at ``/``)."""

from vigil.web.console import (
    analysis_pages,
    federation_pages,
    feed_pages,
    intel_pages,
    key_pages,
    share_actions,
    sso_pages,
)
from vigil.web.console.routes import router

router.include_router(share_actions.router)
router.include_router(analysis_pages.router)
router.include_router(feed_pages.router)
router.include_router(sso_pages.router)
router.include_router(key_pages.router)
router.include_router(federation_pages.router)
router.include_router(intel_pages.router)

__all__ = ["router"]
