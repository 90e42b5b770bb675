"""Optional full SigV4 verification of incoming requests, computed with botocore (an independent reference).

Verifying against the raw path the server received proves the client sent the bytes it signed (an HTTP
client that re-encodes ``%3A`` after signing fails here exactly as it would fail against AWS).
"""

from __future__ import annotations

import hmac
import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/"
    r"aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?Signature=(?P<sig>[0-9a-f]{64})"
)


def signature_matches(
    *, secrets: dict[str, str], method: str, host: str, raw_path: str, headers: dict[str, str], body: bytes
) -> bool:
    """True when the Authorization header is a valid SigV4 signature for a known access key."""
    match = _AUTH.fullmatch(headers.get("authorization", ""))
    if match is None or match["key"] not in secrets:
        return False
    signed = match["signed"].split(";")
    signed_headers = {name: headers.get(name, "") for name in signed}
    signed_headers["host"] = headers.get("host", host)
    token = headers.get("x-amz-security-token")
    request = AWSRequest(method=method, url=f"http://{signed_headers['host']}{raw_path}", data=body,
                         headers=signed_headers)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    credentials = Credentials(match["key"], secrets[match["key"]], token)
    auth = SigV4Auth(credentials, match["service"], match["region"])
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, match["sig"])
