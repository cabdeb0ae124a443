"""The web fixtures, for the log API tests."""

from tests.web.conftest import api  # noqa: F401
