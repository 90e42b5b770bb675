"""Secrets: format, randomness budget, keyed hashing, offline plausibility check, masking."""

from __future__ import annotations

import math

from proxy.auth.secrets import (
    SECRET_LENGTH,
    SECRET_PREFIX,
    KeyHasher,
    display_prefix,
    mask,
    new_key_id,
)


def test_secret_format_and_entropy() -> None:
    hasher = KeyHasher("pepper")
    secrets = {hasher.new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX) and len(secret) == SECRET_LENGTH and secret.isascii()
        assert hasher.plausible(secret)
    random_chars = SECRET_LENGTH - len(SECRET_PREFIX) - 6
    # what stays secret after the display prefix is public still carries more than 256 bits
    assert (random_chars - 4) * math.log2(62) > 256


def test_hash_is_keyed_hex_and_never_the_secret() -> None:
    secret = KeyHasher(None).new_secret()
    digest = KeyHasher("pepper-a").hash(secret)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest != KeyHasher("pepper-b").hash(secret)
    assert digest == KeyHasher("pepper-a").hash(secret)
    assert KeyHasher(None).hash(secret) != digest  # default pepper is still a key, just not secret
    assert secret not in digest


def test_plausibility_rejects_forged_keys_offline() -> None:
    hasher = KeyHasher("pepper")
    secret = hasher.new_secret()
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert not hasher.plausible(tampered)
    assert not hasher.plausible(secret[:-2])
    assert not KeyHasher("other-pepper").plausible(secret)
    assert hasher.plausible("imported-demo-key")  # other formats are for the store to judge


def test_display_prefix_mask_and_key_id() -> None:
    secret = KeyHasher(None).new_secret()
    assert display_prefix(secret) == secret[:10]
    masked = mask(secret)
    assert masked.startswith(secret[:8]) and masked.endswith(secret[-4:]) and secret not in masked
    assert mask("short") == "***"
    key_id = new_key_id()
    assert key_id.startswith("key_") and len(key_id) == 16
