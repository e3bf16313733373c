"""Settings of benchmark worker processes that need other ``MESSAGING_*`` values.

The demo site's settings, plus the ``MESSAGING_*`` settings a benchmark passes as a JSON
object in the environment variable ``MESSAGING_BENCH_SETTINGS``, e.g.
``{"MESSAGING_CONNECTIONS_PER_WORKER": 4}``. Other names are refused, so this can only
tune the app, never point the worker at another database or mail server.
"""

import json
import os

from config.settings import *  # noqa: F403

_overrides = json.loads(os.environ.get("MESSAGING_BENCH_SETTINGS") or "{}")
_refused = [name for name in _overrides if not name.startswith("MESSAGING_")]
if _refused:
    raise ValueError(f"MESSAGING_BENCH_SETTINGS may only set MESSAGING_* settings, not {_refused}.")
globals().update(_overrides)
