"""SSEResponse: a client gone before the first frame still gets the relay's cleanup (on_abandon)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from proxy.api.sse import SSEResponse


async def test_disconnect_before_the_first_frame_runs_on_abandon() -> None:
    started, abandoned = [], []

    async def frames() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"data: {}\n\n"

    async def on_abandon() -> None:
        await asyncio.sleep(0)  # cleanup may await (settle, upstream close)
        abandoned.append(True)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)  # a server whose send suspends: the disconnect lands here

    response = SSEResponse(frames(), headers={}, on_abandon=on_abandon)
    await asyncio.create_task(response(scope={"type": "http"}, receive=receive, send=send))
    assert response.disconnected and not started and abandoned == [True]


async def test_started_relay_cleans_up_itself() -> None:
    cleaned, abandoned = [], []

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(10)
            yield b"data: 2\n\n"
        finally:
            cleaned.append(True)

    async def on_abandon() -> None:
        abandoned.append(True)

    first_frame_sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await first_frame_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            first_frame_sent.set()

    response = SSEResponse(frames(), headers={}, on_abandon=on_abandon)
    await asyncio.create_task(response(scope={"type": "http"}, receive=receive, send=send))
    assert cleaned == [True] and abandoned == []
