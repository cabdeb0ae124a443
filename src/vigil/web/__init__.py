"""The node's HTTP surface: REST API, push stream, OpenAPI."""

from vigil.web.app import create_app

__all__ = ["create_app"]
