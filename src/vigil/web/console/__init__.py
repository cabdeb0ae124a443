"""The analyst web console (server-rendered HTML at ``/``)."""

from vigil.web.console.routes import router

__all__ = ["router"]
