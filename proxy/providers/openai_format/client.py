"""Async HTTP client for one OpenAI-format upstream: its URLs, its auth header, its timeouts, its errors.

One aiohttp session per provider (created in the lifespan): no thread per call, pooled connections.
Like the Bedrock client (proxy/providers/bedrock/client.py) it does not retry: the router does
(proxy/pipeline/routing.py), once, for every provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from proxy.catalog.providers import ProviderConfig
from proxy.errors import GatewayError, InternalError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from proxy.providers.openai_format.errors import upstream_error

log = logging.getLogger("llm_gateway.openai_format")

MAX_ERROR_BYTES = 64 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024  # one SSE line: a chunk with a large tool-call argument still fits


class OpenAIFormatClient:
    def __init__(self, config: ProviderConfig, api_key: str | None, *, connect_timeout_s: float,
                 first_byte_timeout_s: float, idle_timeout_s: float, max_connections: int = 0) -> None:
        assert config.base_url is not None
        self.config = config
        self._base = config.base_url
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            if config.kind == "azure" and config.auth == "api-key":
                self._headers["api-key"] = api_key
            else:
                self._headers["Authorization"] = f"Bearer {api_key}"
        if config.organization:
            self._headers["OpenAI-Organization"] = config.organization
        self.first_byte_timeout_s = first_byte_timeout_s
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect_timeout_s,
                                              sock_read=idle_timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.has_key = bool(api_key)

    def url(self, operation: str, deployment: str | None) -> str:
        """``operation`` is chat/completions or embeddings; Azure's deployment form names the deployment."""
        if self.config.kind != "azure":
            return f"{self._base}/{operation}"
        if self.config.path == "v1":
            return f"{self._base}/openai/v1/{operation}"
        assert deployment is not None, "the catalog requires a deployment for Azure's deployment paths"
        return (f"{self._base}/openai/deployments/{quote(deployment, safe='')}/{operation}"
                f"?api-version={quote(self.config.api_version or '', safe='')}")

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=60, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def ready(self) -> str | None:
        return "not started" if self._session is None else None

    async def post(self, url: str, body: dict[str, Any], *, request_id: str) -> aiohttp.ClientResponse:
        """POST ``body``; the 200 response unread (its headers arrived within the first-byte timeout)."""
        if self._session is None:
            raise InternalError("Upstream client used before start().")
        payload = orjson.dumps(body)
        try:
            async with asyncio.timeout(self.first_byte_timeout_s):
                resp = await self._session.post(url, data=payload, headers=self._headers)
        except TimeoutError:
            raise UpstreamTimeout("The model did not start answering in time.") from None
        except aiohttp.ClientError as exc:
            log.warning("upstream connection failed provider=%s request_id=%s error=%r",
                        self.config.name, request_id, exc)
            raise UpstreamUnavailable("The upstream service is unreachable; retry shortly.") from None
        if resp.status != 200:
            raise await self._error(resp, request_id)
        return resp

    async def json(self, resp: aiohttp.ClientResponse, *, request_id: str) -> Any:
        try:
            raw = await resp.read()
        except TimeoutError:
            raise UpstreamTimeout("The model did not answer in time.") from None
        except aiohttp.ClientError as exc:
            log.warning("upstream read failed provider=%s request_id=%s error=%r", self.config.name, request_id, exc)
            raise UpstreamUnavailable("The upstream connection failed; retry shortly.") from None
        finally:
            resp.release()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.error("upstream returned invalid JSON provider=%s request_id=%s bytes=%d",
                      self.config.name, request_id, len(raw))
            raise UpstreamError("The upstream returned an unreadable answer.") from None

    async def _error(self, resp: aiohttp.ClientResponse, request_id: str) -> GatewayError:
        try:
            raw = await resp.content.read(MAX_ERROR_BYTES)
        except (TimeoutError, aiohttp.ClientError):
            raw = b""
        finally:
            resp.release()
        try:
            data = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            data = {}
        return upstream_error(resp.status, data, resp.headers, provider=self.config.name, request_id=request_id)


async def sse_data(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The ``data:`` payloads of a text/event-stream, one per event (comments and other fields skipped).

    OpenAI-format servers send one ``data:`` line per event; multi-line data is joined with newlines as
    the SSE spec says, so a server that splits a payload still parses.
    """
    content = resp.content
    pending: list[bytes] = []
    while True:
        line = await content.readline()
        if not line:
            if pending:
                yield b"\n".join(pending)
            return
        if len(line) > MAX_LINE_BYTES:
            raise ValueError("an SSE line longer than the gateway reads")
        line = line.rstrip(b"\r\n")
        if not line:
            if pending:
                yield b"\n".join(pending)
                pending = []
            continue
        if line.startswith(b"data:"):
            data = line[5:]
            pending.append(data[1:] if data.startswith(b" ") else data)
