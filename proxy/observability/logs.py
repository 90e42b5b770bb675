"""Log lines an attacker cannot forge or inflate: control characters escaped, one line per record, bounded.

Client-controlled text reaches the logs (model names, ids, upstream messages); a newline, CR, tab or ANSI
escape in it could forge log lines or rewrite a terminal, and one request's traceback used to be written
twice (hardening #7). ``SafeFormatter`` is installed for every handler by ``configure`` (proxy/cli/main.py).
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

MAX_LINE = 8_192  # characters per log line, traceback included
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """Control characters as visible escapes (\\n, \\x1b, ...): the line stays one line, the terminal inert."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def bounded(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]}... [{len(text) - limit + 40} chars cut]"


class SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = escape(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        elif record.exc_text:
            line += " | " + escape(record.exc_text)
        return bounded(line)

    def formatException(self, ei: tuple[type[BaseException], BaseException, TracebackType | None]
                        | tuple[None, None, None]) -> str:
        """The exception and its last frames on the same line: `Type: message @ file:line in fn < ...`."""
        kind, value, tb = ei
        if kind is None:
            return ""
        frames = traceback.extract_tb(tb)[-6:]
        where = " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} in {f.name}" for f in reversed(frames))
        return escape(f"{kind.__name__}: {value} @ {where}")


def configure(level: str) -> None:
    """Root logging for the server process: one handler, the safe formatter (uvicorn's loggers propagate)."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
