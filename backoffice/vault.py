"""Encryption at rest for organizations' own provider keys (bring your own provider).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived from
``PARLEY_SECRET_KEY`` by HKDF, under a label of its own: the same server secret
keys document digests elsewhere, and the two uses must never share a key. A value
encrypted here cannot be read back without the server secret; rotating the secret
means re-entering the keys.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import HTTPConnection

from config.settings import StoreSettings

LABEL = b"parley provider credentials v1"


class VaultError(Exception):
    """Stored credentials cannot be read (wrong server secret, or tampered)."""


class Vault:
    def __init__(self, server_secret: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(
            server_secret
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(values)).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        """Raises: VaultError."""
        try:
            data = orjson.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise VaultError("stored provider credentials cannot be decrypted") from exc
        if not isinstance(data, dict):
            raise VaultError("stored provider credentials are not an object")
        return data


def server_secret(conn: HTTPConnection) -> bytes:
    """The server secret of the app serving ``conn`` (settings in ``app.state``), else
    the development default an unset ``PARLEY_SECRET_KEY`` gives."""
    settings = getattr(conn.app.state, "settings", None)
    secret = (
        settings.secret_key
        if isinstance(settings, StoreSettings)
        else StoreSettings.model_fields["secret_key"].default
    )
    return str(secret.get_secret_value()).encode()
