"""Bearer tokens: random secrets of which only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewToken:
    raw: str
    prefix: str
    token_hash: str


def token_hash(raw: str) -> str:
    """Return the stored form of a token.

    The tokens are 256-bit random values, so a plain SHA-256 is enough: there is nothing to brute-force,
    and a fast hash keeps every check-in cheap.
    """
    return hashlib.sha256(raw.encode()).hexdigest()


def token_new(kind: str) -> NewToken:
    """Return a new random token such as ``kph_3f9a..._...`` with its prefix and hash."""
    raw = f"{kind}_{secrets.token_urlsafe(32)}"
    return NewToken(raw=raw, prefix=raw[: len(kind) + 7], token_hash=token_hash(raw))


def bearer_token(authorization_header: str | None) -> str | None:
    """Return the token from an ``Authorization: Bearer ...`` header, or None."""
    if not authorization_header:
        return None
    scheme, _, value = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or len(value) > 256:
        return None
    return value.strip()
