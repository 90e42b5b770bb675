"""API key secrets: generation, keyed hashing, public ids, display prefixes and masking (pure, no I/O).

A secret is ``sk-gw-`` + 48 random base62 characters (~286 bits) + a 6-character keyed checksum, so a
flood of made-up ``sk-gw-`` keys is rejected without touching the store. Only HMAC-SHA256 hashes are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "sk-gw-"
KEY_ID_PREFIX = "key_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_CHARS = 48  # 48 * log2(62) ~ 286 bits; > 256 even after the display prefix is public
_CHECKSUM_CHARS = 6
SECRET_LENGTH = len(SECRET_PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS
DISPLAY_PREFIX_CHARS = 10
# Used when LLM_GATEWAY_KEY_PEPPER is unset: hashes are still keyed, just not with a secret key.
DEFAULT_PEPPER = "llm-gateway/default-pepper/v1"


class KeyHasher:
    """HMAC-SHA256 with the server-side pepper; the keyed state is prepared once and copied per call."""

    def __init__(self, pepper: str | None) -> None:
        key = (pepper or DEFAULT_PEPPER).encode()
        self._hash = hmac.new(key, digestmod=hashlib.sha256)
        self._checksum = hmac.new(key + b"/checksum", digestmod=hashlib.sha256)

    def hash(self, secret: str) -> str:
        h = self._hash.copy()
        h.update(secret.encode())
        return h.hexdigest()

    def checksum(self, body: str) -> str:
        h = self._checksum.copy()
        h.update(body.encode())
        return _base62(int.from_bytes(h.digest()[:8], "big"), _CHECKSUM_CHARS)

    def new_secret(self) -> str:
        body = SECRET_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
        return body + self.checksum(body)

    def plausible(self, secret: str) -> bool:
        """False when the secret claims our format but cannot be one of ours (wrong length or checksum).

        Secrets in another format (e.g. an imported demo key) are plausible: only the store can tell.
        """
        if not secret.startswith(SECRET_PREFIX):
            return True
        if len(secret) != SECRET_LENGTH:
            return False
        body, check = secret[:-_CHECKSUM_CHARS], secret[-_CHECKSUM_CHARS:]
        return hmac.compare_digest(self.checksum(body), check)


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def new_key_id() -> str:
    return KEY_ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(12))


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_CHARS]


def mask(secret: str) -> str:
    """OpenAI-style masked key for error messages: the first 8 and last 4 characters only."""
    if len(secret) < 20:
        return "***"
    return f"{secret[:8]}***...{secret[-4:]}"
