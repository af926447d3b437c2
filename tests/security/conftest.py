"""The security regression suite: one module per class of attack (docs/security.md).

Each test replays an attack that once got through against the real app and servers; the
fixtures are those of the packages the attacks target, re-exported so they resolve here too.
"""

from __future__ import annotations

from tests.activities.conftest import ledger, settings
from tests.api.conftest import api_client_for

__all__ = ["api_client_for", "ledger", "settings"]
