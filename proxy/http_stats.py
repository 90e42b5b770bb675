"""What the HTTP server (proxy/server/) did to connections, for /metrics: plain counters in this process.

The server may import nothing but the settings and the error envelope (pyproject.toml's contracts), and
the app may not import the server, so the two meet here: the server counts, the composition root
(proxy/services.py) renders. One event loop per process, so plain dict increments need no lock.
"""

from __future__ import annotations

from collections import Counter

# reason -> connections answered and closed by the server itself: request_timeout (408),
# request_header_fields_too_large (431), server_overloaded (503), invalid_request (malformed HTTP, 400),
# evicted (closed at the connection cap to make room), idle_closed (idle or keep-alive deadline).
REJECTIONS: Counter[str] = Counter()
OPEN = {"connections": 0}
