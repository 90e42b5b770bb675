"""AWS Signature Version 4 (header auth) with the derived signing key cached: the hot path's signer."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

SERVICE = "bedrock"


class SigV4Signer:
    """AWS SigV4 (header auth) for one region/service, with the derived signing key cached per day.

    botocore's ``SigV4Auth`` re-derives the key (four HMACs) and copies the request on every call
    (~53 µs); this is the same algorithm with the key cached (~9 µs). Unit tests compare its output with
    botocore's ``SigV4Auth`` and with a real boto3 bedrock-runtime request, byte for byte.
    """

    def __init__(self, region: str, service: str = SERVICE) -> None:
        self._region = region
        self._service = service
        self._cached: tuple[str, str, bytes] | None = None  # (secret key, yyyymmdd, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._cached
        if cached is not None and cached[0] == secret and cached[1] == day:
            return cached[2]
        key = f"AWS4{secret}".encode()
        for part in (day, self._region, self._service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._cached = (secret, day, key)
        return key

    def sign(
        self, credentials: Any, *, method: str, host: str, path: str, headers: dict[str, str],
        body: bytes, now: datetime | None = None,
    ) -> dict[str, str]:
        """Return ``headers`` plus Host, X-Amz-Date, X-Amz-Security-Token and Authorization."""
        amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        out = dict(headers)
        out["Host"] = host
        out["X-Amz-Date"] = amz_date
        if credentials.token:
            out["X-Amz-Security-Token"] = credentials.token
        canon = {name.lower(): " ".join(value.split()) for name, value in out.items()}
        names = sorted(canon)
        signed_names = ";".join(names)
        canonical_request = "\n".join((
            method, quote(path, safe="/~"), "", *(f"{n}:{canon[n]}" for n in names), "",
            signed_names, hashlib.sha256(body).hexdigest(),
        ))
        scope = f"{amz_date[:8]}/{self._region}/{self._service}/aws4_request"
        string_to_sign = "\n".join((
            "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()
        ))
        key = self._signing_key(credentials.secret_key, amz_date[:8])
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        out["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return out
