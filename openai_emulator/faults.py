"""Failures queued through ``POST /_emulator/faults``, independent of the request text.

Directives live in the prompt, so two upstreams given the same prompt behave the same; a queued fault lets
a test throttle one upstream (or one model) while another answers. Each matching call consumes one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from openai_emulator.asgi import OpenAIError

Kind = Literal["error", "disconnect", "stall"]
KINDS: tuple[Kind, ...] = ("error", "disconnect", "stall")
OPERATIONS = frozenset({"chat", "chat_stream", "embeddings"})
_UNSET = object()


@dataclass
class Fault:
    kind: Kind = "error"
    status: int = 429
    count: int = 1                  # -1: until DELETE /_emulator/faults or reset
    retry_after: int | None = None  # 429s default to 1 second
    delay_ms: int = 0               # before the error (or, for a stall, before the normal answer)
    model: str | None = None        # matches the body's model, the deployment or its underlying model
    operation: str | None = None    # chat | chat_stream | embeddings
    message: str | None = None
    code: str | None = None         # e.g. "insufficient_quota" instead of "rate_limit_exceeded"
    type: str | None = None

    def error(self) -> OpenAIError:
        message = self.message or f"Emulated {self.status} (queued fault)."
        headers = [(b"retry-after", str(self.retry_after).encode())] if self.retry_after is not None else []
        return OpenAIError(self.status, message, code=self.code, type=self.type, headers=headers)


def parse_fault(payload: Any) -> Fault:
    """A Fault from the POSTed JSON; raises a 400 OpenAIError naming the bad field."""
    if not isinstance(payload, dict):
        raise OpenAIError(400, "a fault is a JSON object", param="body")
    unknown = set(payload) - set(Fault.__dataclass_fields__)
    if unknown:
        raise OpenAIError(400, f"unknown fault fields: {', '.join(sorted(unknown))}", param=sorted(unknown)[0])
    fault = Fault(**payload)
    if fault.kind not in KINDS:
        raise OpenAIError(400, f"kind must be one of {', '.join(KINDS)}", param="kind")
    if fault.kind == "error" and not (isinstance(fault.status, int) and 400 <= fault.status <= 599):
        raise OpenAIError(400, "an error fault needs a status from 400 to 599", param="status")
    if not isinstance(fault.count, int) or fault.count == 0 or fault.count < -1:
        raise OpenAIError(400, "count is a positive integer, or -1 for until cleared", param="count")
    for name, optional in (("delay_ms", False), ("retry_after", True)):
        value = getattr(fault, name)
        if not (optional and value is None) and not _non_negative(value):
            raise OpenAIError(400, f"{name} is a non-negative integer", param=name)
    if fault.operation is not None and fault.operation not in OPERATIONS:
        raise OpenAIError(400, f"operation must be one of {', '.join(sorted(OPERATIONS))}", param="operation")
    if payload.get("retry_after", _UNSET) is _UNSET and fault.status == 429:
        fault.retry_after = 1   # as EMULATOR:error=429 does; an explicit null sends no Retry-After
    return fault


def _non_negative(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class FaultQueue:
    """Faults in the order queued; ``take`` consumes the first one matching a call."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def clear(self) -> None:
        self.pending.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self.pending]

    def take(self, models: set[str], operation: str) -> Fault | None:
        for fault in self.pending:
            if (fault.model is None or fault.model in models) and fault.operation in (None, operation):
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.pending.remove(fault)
                return fault
        return None
