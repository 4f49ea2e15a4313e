"""Optional symmetric encryption of message bodies (``SYMMETRIC_ENCRYPTION_KEYS``).

Uses Fernet from the ``cryptography`` package (install the ``redis-crypto``
extra). The first key encrypts; every key is tried to decrypt, so keys can be
rotated by putting the new key first and dropping the old one once no message
sealed with it can still be waiting (after EXPIRY seconds).

Only message bodies are sealed; channel names, group names and timestamps are
visible to whoever can read the Redis server.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from ...exceptions import ImproperlyConfiguredBackend


class Sealer:
    """Encrypts and decrypts message payloads with a list of keys."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        try:
            from cryptography.fernet import Fernet, InvalidToken, MultiFernet
        except ImportError as exc:
            raise ImproperlyConfiguredBackend(
                "SYMMETRIC_ENCRYPTION_KEYS needs the 'cryptography' package: "
                "pip install 'channels[redis-crypto]'"
            ) from exc
        self._fernet = MultiFernet([Fernet(derive_key(key)) for key in keys])
        self._invalid = InvalidToken

    def seal(self, data: bytes) -> bytes:
        """Encrypt ``data`` with the first key."""
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes | None:
        """Decrypt ``token`` with any key; None if no key fits."""
        try:
            return self._fernet.decrypt(token)
        except self._invalid:
            return None


def derive_key(key: str | bytes) -> bytes:
    """A Fernet key from any secret string.

    Secrets of any length are accepted (like Django's SECRET_KEY) and
    stretched with SHA-256, so users need not generate Fernet's own format.
    """
    raw = key.encode() if isinstance(key, str) else key
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def validate_keys(value: Any) -> list[str | bytes]:
    """Check the SYMMETRIC_ENCRYPTION_KEYS option; return it as a list."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ImproperlyConfiguredBackend(
            "SYMMETRIC_ENCRYPTION_KEYS must be a list of secret strings "
            f"(the first encrypts, all decrypt), not {value!r:.40}"
        )
    if not value:
        raise ImproperlyConfiguredBackend("SYMMETRIC_ENCRYPTION_KEYS must hold at least one key")
    for key in value:
        if not isinstance(key, str | bytes) or len(key) < 16:
            raise ImproperlyConfiguredBackend(
                "each of SYMMETRIC_ENCRYPTION_KEYS must be a str or bytes secret of at "
                "least 16 characters"
            )
    return list(value)
