"""Which provider keys an organization's messages and calls use.

``managed``: parley's own keys from its settings. ``byop`` (bring your own provider):
the organization's keys, stored encrypted (:mod:`backoffice.vault`) and never returned
in full, only as masked hints. Every change is audited without the secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from backoffice import audit
from backoffice.errors import FieldError, InvalidInput, NotFound
from backoffice.store.tables import organizations
from backoffice.vault import Vault

# Fields per provider; the first of each set are required when that provider is given.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "twilio": ("account_sid", "auth_token", "from_number", "whatsapp_from"),
    "elevenlabs": ("api_key", "agent_id"),
    "resend": ("api_key", "from_domain", "webhook_secret"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "twilio": ("account_sid", "auth_token"),
    "elevenlabs": ("api_key",),
    "resend": ("api_key",),
}
SECRET_FIELDS = frozenset({"auth_token", "api_key", "webhook_secret"})


@dataclass(frozen=True, slots=True)
class Credentials:
    mode: str
    providers: dict[str, dict[str, str]]

    def masked(self) -> dict[str, dict[str, str]]:
        """What an admin may see again: secrets as ``set``, ids with their last 4."""
        return {
            name: {
                field: "set" if field in SECRET_FIELDS else _hint(value)
                for field, value in values.items()
            }
            for name, values in self.providers.items()
        }


def _hint(value: str) -> str:
    return value if len(value) <= 6 else f"…{value[-4:]}"


def _validate(mode: str, providers: dict[str, dict[str, str]]) -> None:
    errors: list[FieldError] = []
    if mode not in ("managed", "byop"):
        errors.append(FieldError("mode", "must be managed or byop"))
    for name, values in providers.items():
        if name not in PROVIDERS:
            errors.append(FieldError(f"providers.{name}", "unknown provider"))
            continue
        for field in values:
            if field not in PROVIDERS[name]:
                errors.append(FieldError(f"providers.{name}.{field}", "unknown field"))
        for field in REQUIRED[name]:
            if not values.get(field, "").strip():
                errors.append(FieldError(f"providers.{name}.{field}", "required"))
    if mode == "byop" and not providers:
        errors.append(FieldError("providers", "byop needs at least one provider's keys"))
    if errors:
        raise InvalidInput(errors, "invalid credentials")


async def set_credentials(
    conn: AsyncConnection,
    vault: Vault,
    *,
    org_id: str,
    mode: str,
    providers: dict[str, dict[str, str]],
    actor: str,
) -> Credentials:
    """Replace the organization's credential mode and keys (``managed`` drops the keys).

    Raises:
        InvalidInput: naming each bad field.
        NotFound: no such organization.
    """
    _validate(mode, providers)
    stored = vault.seal(providers) if mode == "byop" else None
    result = await conn.execute(
        update(organizations)
        .where(organizations.c.id == org_id)
        .values(credential_mode=mode, provider_keys=stored)
    )
    if result.rowcount == 0:
        raise NotFound("organization")
    detail: dict[str, Any] = {
        "mode": mode,
        "providers": {k: sorted(v) for k, v in providers.items()},
    }
    await audit.record(
        conn,
        org_id=org_id,
        actor=actor,
        action="organization.credentials_set",
        entity_type="organization",
        entity_id=org_id,
        detail=detail,
    )
    return Credentials(mode, providers if mode == "byop" else {})


async def get_credentials(conn: AsyncConnection, vault: Vault, *, org_id: str) -> Credentials:
    """The organization's mode and (decrypted) keys, for the senders that use them.

    Raises:
        NotFound: no such organization.
        VaultError: the stored keys cannot be decrypted with this server's secret.
    """
    row = (
        await conn.execute(
            select(organizations.c.credential_mode, organizations.c.provider_keys).where(
                organizations.c.id == org_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("organization")
    if row.credential_mode != "byop" or not row.provider_keys:
        return Credentials(row.credential_mode, {})
    return Credentials("byop", vault.open(row.provider_keys))
