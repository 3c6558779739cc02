"""The money attacks of test_money_hostile.py again, every write keyed (see test_keyed_api.py)."""

from __future__ import annotations

from tests.e2e.keyed import client  # noqa: F401 (every write keyed)
from tests.e2e.test_money_hostile import *  # noqa: F403
