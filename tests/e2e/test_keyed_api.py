"""Every command keeps its answer with its events: the API's stories again, every write keyed.

The stories of test_api.py, test_api_input.py, test_collaboration_api.py, test_four_eyes_api.py and
test_money_api.py, and the attacks of test_collaboration_hostile.py and test_collaboration_hostile_rules.py (test_money_hostile.py's in
test_keyed_hostile_api.py), run here through a client that sends every POST, PUT and PATCH with
an Idempotency-Key of its own (tests/e2e/keyed.py). After each answer that recorded something, it checks that the same answer was already kept in the transaction of
the events (so a crash right after the commit would have left it for the retry), and that a retry
with the key is answered as the first time, replayed, recording nothing more.
"""

from __future__ import annotations

from tests.e2e.keyed import client  # noqa: F401 (every write keyed)
from tests.e2e.test_api import *  # noqa: F403  (the stories, collected again with this client)
from tests.e2e.test_api_input import *  # noqa: F403
from tests.e2e.test_collaboration_api import *  # noqa: F403
from tests.e2e.test_collaboration_hostile import *  # noqa: F403
from tests.e2e.test_collaboration_hostile_rules import *  # noqa: F403
from tests.e2e.test_four_eyes_api import *  # noqa: F403
from tests.e2e.test_money_api import *  # noqa: F403
