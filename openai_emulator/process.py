"""Run the OpenAI emulator as a child process (tests, benchmarks, the offline demo)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bedrock_emulator.process import emulator_process as _run


@contextmanager
def emulator_process(
    port: int | None = None, args: Sequence[str] = (), *, timeout: float = 15.0
) -> Iterator[str]:
    """Start ``python -m openai_emulator`` on loopback; yield its base URL (no ``/v1``); stop it on exit."""
    with _run(port, args, timeout=timeout, module="openai_emulator") as url:
        yield url
