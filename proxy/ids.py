"""Identifiers for requests and completions: unique, not secret.

uuid4 costs a getrandom() syscall per call, which showed up as ~6% of the hot path under load here;
a PRNG seeded once from the OS is enough for ids nobody needs to guess.
"""

from __future__ import annotations

import os
import random

_random = random.Random(os.urandom(32))
# A forked worker must not replay its parent's sequence: ids key usage records, duplicates would be dropped.
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def random_hex() -> str:
    """32 hex characters (128 bits), like uuid4().hex."""
    return f"{_random.getrandbits(128):032x}"
