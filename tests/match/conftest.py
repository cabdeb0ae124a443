"""The matching tests run on the intel API node of ``tests/intel``."""

from tests.intel.conftest import iapi as iapi
