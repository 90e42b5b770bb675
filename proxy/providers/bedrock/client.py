"""Async Bedrock Runtime client: botocore credentials, SigV4, aiohttp, incremental event-stream decoding.

No thread per request and no boto3 on the hot path: a thread pool caps a process at its pool size of
concurrent calls, while one gateway process must hold thousands of streams. botocore is used for what
it is good at (the credential chain) and as the reference the signer is tested against byte for byte.
No retries here: the openai SDK already retries 429/5xx, and retry layers multiply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from yarl import URL

from proxy.errors import GatewayError, InternalError, InvalidRequest, UpstreamTimeout, UpstreamUnavailable
from proxy.providers.bedrock.errors import UpstreamStreamError, map_bedrock_error, normalize_code
from proxy.providers.bedrock.eventstream import EventStreamDecoder, EventStreamError, Message
from proxy.providers.bedrock.sigv4 import SigV4Signer

log = logging.getLogger("llm_gateway.bedrock")

JSON = "application/json"
EVENTSTREAM = "application/vnd.amazon.eventstream"
_CREDENTIAL_CHECK_INTERVAL_S = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_url(endpoint: str | None, region: str) -> str:
    return (endpoint or f"https://bedrock-runtime.{region}.amazonaws.com").rstrip("/")


def model_path(model_id: str, operation: str) -> str:
    """``/model/{modelId}/{operation}``; the id is fully percent-encoded like botocore does (``:``, ``/``)."""
    if model_id in {"", ".", ".."}:
        raise InvalidRequest(f"Invalid model id {model_id!r}.", param="model")
    return f"/model/{quote(model_id, safe='')}/{operation}"


def host_header(url: str) -> str:
    """The Host value SigV4 signs: lower-case, default port dropped (as botocore's ``_host_from_url``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class BedrockClient:
    """One per process (created in the lifespan); safe for thousands of concurrent calls."""

    def __init__(self, *, region: str, endpoint: str | None = None, connect_timeout_s: float = 10.0,
                 read_timeout_s: float = 300.0, max_connections: int = 0) -> None:
        self._base = endpoint_url(endpoint, region)
        self._host = host_header(self._base)
        self._base_path = urlsplit(self._base).path.rstrip("/")
        self._signer = SigV4Signer(region)
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s,
        )
        self._session: aiohttp.ClientSession | None = None
        self._credentials: Any = None   # botocore Credentials (maybe refreshable)
        self._frozen: Any = None        # ReadOnlyCredentials used for signing
        self._next_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The credential chain may do network I/O (IMDS, SSO, STS): once, off the event loop.
        self._credentials = await asyncio.to_thread(_resolve_credentials)
        if self._credentials is None:
            log.error("no AWS credentials found in the standard chain; Bedrock calls will fail")
        else:
            self._frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
            self._next_check = time.monotonic() + _CREDENTIAL_CHECK_INTERVAL_S
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=60, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    def ready(self) -> str | None:
        if self._session is None:
            return "not started"
        if self._frozen is None:
            return "no AWS credentials in the standard chain"
        return None

    async def close(self) -> None:
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def converse(self, model_id: str, body: dict[str, Any], *, request_id: str) -> Any:
        return await self._json(await self._post(model_id, "converse", body, JSON, request_id), request_id)

    async def converse_stream(self, model_id: str, body: dict[str, Any], *, request_id: str) -> BedrockEventStream:
        resp = await self._post(model_id, "converse-stream", body, EVENTSTREAM, request_id)
        stream = BedrockEventStream(resp, request_id=request_id)
        await stream.prime()
        return stream

    async def invoke(self, model_id: str, body: dict[str, Any], *, request_id: str) -> Any:
        """InvokeModel (an Anthropic Messages body for Claude): the JSON answer."""
        return await self._json(await self._post(model_id, "invoke", body, JSON, request_id), request_id)

    async def invoke_counted(self, model_id: str, body: dict[str, Any], *, request_id: str) -> tuple[Any, int | None]:
        """InvokeModel, with the input tokens Bedrock bills in its header (embedding models that do not
        report them in the body: Cohere)."""
        resp = await self._post(model_id, "invoke", body, JSON, request_id)
        count = resp.headers.get("x-amzn-bedrock-input-token-count", "")
        return await self._json(resp, request_id), int(count) if count.isdigit() else None

    async def invoke_stream(self, model_id: str, body: dict[str, Any], *, request_id: str) -> BedrockEventStream:
        """InvokeModelWithResponseStream: `chunk` events; the end of the message is inside their payloads."""
        resp = await self._post(model_id, "invoke-with-response-stream", body, EVENTSTREAM, request_id)
        stream = BedrockEventStream(resp, request_id=request_id, stop_event=None)
        await stream.prime()
        return stream

    async def count_tokens(self, model_id: str, body: dict[str, Any], *, request_id: str) -> Any:
        """CountTokens: ``{"input": {"invokeModel": {"body": "<json>"}}}`` -> ``{"inputTokens": N}``."""
        return await self._json(await self._post(model_id, "count-tokens", body, JSON, request_id), request_id)

    async def _json(self, resp: aiohttp.ClientResponse, request_id: str) -> Any:
        try:
            raw = await resp.read()
        except TimeoutError:
            raise UpstreamTimeout("The model did not answer in time.") from None
        except aiohttp.ClientError as exc:
            log.warning("bedrock read failed request_id=%s error=%r", request_id, exc)
            raise UpstreamUnavailable("The upstream connection failed; retry shortly.") from None
        finally:
            resp.release()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.error("bedrock returned invalid JSON request_id=%s bytes=%d", request_id, len(raw))
            raise map_bedrock_error("", "invalid JSON from upstream", 502, request_id=request_id) from None

    async def _post(
        self, model_id: str, operation: str, body: dict[str, Any], accept: str, request_id: str
    ) -> aiohttp.ClientResponse:
        return await self.post_raw(model_id, operation, orjson.dumps(body), accept, request_id=request_id)

    async def post_raw(
        self, model_id: str, operation: str, payload: bytes, accept: str, *, request_id: str
    ) -> aiohttp.ClientResponse:
        """Signed POST of ``payload`` as is (the Bedrock pass-through sends the client's bytes unchanged);
        a non-200 answer is raised as the mapped GatewayError, a 200 is returned unread."""
        if self._session is None:
            raise InternalError("Bedrock client used before start().")
        path = self._base_path + model_path(model_id, operation)
        headers = self._signer.sign(
            self._current_credentials(), method="POST", host=self._host, path=path,
            headers={"Content-Type": JSON, "Accept": accept}, body=payload,
        )
        # encoded=True: yarl must send the path byte for byte as signed (it would decode %3A to ':').
        url = URL(self._base + model_path(model_id, operation), encoded=True)
        try:
            resp = await self._session.post(url, data=payload, headers=headers)
        except TimeoutError:
            raise UpstreamTimeout("The model did not answer in time.") from None
        except aiohttp.ClientError as exc:
            log.warning("bedrock connection failed request_id=%s error=%r", request_id, exc)
            raise UpstreamUnavailable("The upstream service is unreachable; retry shortly.") from None
        if resp.status != 200:
            raise await _error_from_response(resp, request_id)
        return resp

    def _current_credentials(self) -> Any:
        if self._frozen is None:
            raise InternalError("The gateway has no AWS credentials configured.")
        now = time.monotonic()
        if now >= self._next_check and self._refreshing is None:
            self._next_check = now + _CREDENTIAL_CHECK_INTERVAL_S
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_credentials())
        return self._frozen

    async def _refresh_credentials(self) -> None:
        # Refreshable credentials refresh inside get_frozen_credentials() (a blocking call): keep it off
        # the loop; requests meanwhile sign with the cached copy, still inside its advisory window.
        try:
            self._frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        except Exception as exc:
            log.error("AWS credential refresh failed: %r", exc)
        finally:
            self._refreshing = None


def _resolve_credentials() -> Any:
    import botocore.session

    return botocore.session.get_session().get_credentials()


async def _error_from_response(resp: aiohttp.ClientResponse, request_id: str) -> GatewayError:
    try:
        raw = await resp.read()
    except (TimeoutError, aiohttp.ClientError):
        raw = b""
    finally:
        resp.release()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = normalize_code(resp.headers.get("x-amzn-ErrorType") or data.get("__type") or data.get("code"))
    message = str(data.get("message") or data.get("Message") or "")
    return map_bedrock_error(code, message, resp.status, request_id=request_id)


class BedrockEventStream:
    """Async iterator of ConverseStream events in boto3's shape (``{"contentBlockDelta": {...}}``)."""

    def __init__(
        self, resp: aiohttp.ClientResponse, *, request_id: str, stop_event: str | None = "messageStop"
    ) -> None:
        self._resp = resp
        # The event that ends a complete stream (ConverseStream's messageStop); None when the end is
        # inside the payloads (InvokeModelWithResponseStream) and the caller checks it.
        self._stop_event = stop_event
        self._request_id = request_id
        self._decoder = EventStreamDecoder()
        self._queue: deque[dict[str, Any] | GatewayError] = deque()
        self._eof = False
        self._closed = False
        self._saw_stop = False

    async def prime(self) -> None:
        """Read until the first message; an exception there is raised as the plain mapped error."""
        while not self._queue and not self._eof:
            await self._read_more()
        first = self._queue[0] if self._queue else None
        if isinstance(first, UpstreamStreamError):
            await self.aclose()
            raise first.cause or first

    def __aiter__(self) -> BedrockEventStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._queue:
            if self._eof:
                raise StopAsyncIteration
            await self._read_more()
        item = self._queue.popleft()
        if isinstance(item, GatewayError):
            self._queue.clear()
            self._eof = True
            await self.aclose()
            raise item
        return item

    async def aclose(self) -> None:
        """Abort the upstream response now; the half-read connection is closed, never pooled."""
        if not self._closed:
            self._closed = True
            self._resp.close()

    async def __aenter__(self) -> BedrockEventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _read_more(self) -> None:
        try:
            chunk = await self._resp.content.readany()
            events = [self._to_event(m) for m in self._decoder.feed(chunk)] if chunk else []
        except TimeoutError:
            self._fail(UpstreamStreamError.from_error(UpstreamTimeout("The model stopped sending in time.")))
            return
        except (aiohttp.ClientError, ValueError) as exc:  # ValueError: EventStreamError, bad JSON
            log.warning("bedrock stream failed request_id=%s error=%r", self._request_id, exc)
            self._fail(UpstreamStreamError("upstream stream ended unexpectedly"))
            return
        self._queue.extend(events)
        if not chunk:
            self._eof = True
            if self._decoder.pending or (self._stop_event is not None and not self._saw_stop):
                log.warning("bedrock stream truncated request_id=%s", self._request_id)
                self._queue.append(UpstreamStreamError("upstream stream ended unexpectedly"))
            else:
                self._closed = True
                self._resp.release()

    def _fail(self, err: GatewayError) -> None:
        self._eof = True
        self._queue.append(err)

    def _to_event(self, message: Message) -> dict[str, Any] | GatewayError:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind == "event":
            event_type = headers.get(":event-type", "")
            payload = orjson.loads(message.payload) if message.payload else {}
            if not isinstance(payload, dict):
                raise EventStreamError(f"event {event_type!r} payload is not an object")
            payload.pop("p", None)  # Bedrock's random-length padding; boto3 drops it too
            if event_type == self._stop_event:
                self._saw_stop = True
            return {event_type: payload}
        if kind == "exception":
            code = str(headers.get(":exception-type", ""))
            try:
                body = orjson.loads(message.payload) if message.payload else {}
            except orjson.JSONDecodeError:
                body = {}
            text = str(body.get("message") or body.get("Message") or "") if isinstance(body, dict) else ""
        else:
            code = str(headers.get(":error-code", ""))
            text = str(headers.get(":error-message", ""))
        mapped = map_bedrock_error(code, text, None, request_id=self._request_id)
        return UpstreamStreamError.from_error(mapped)
