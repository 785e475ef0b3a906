"""Keys given in ``PARLEY_API_KEYS`` (``org:key`` pairs) become admin keys in the store.

That is how a fresh deployment (and ``parley demo``) gets its first organization
and key without a console; it is idempotent, and the keys are stored hashed like any
other.
"""

from __future__ import annotations

from backoffice.errors import NotFound
from backoffice.orgs.models import OrganizationInput
from backoffice.orgs.service import (
    authenticate,
    create_organization,
    get_organization,
    store_api_key,
)
from backoffice.store.db import Database


async def bootstrap_keys(db: Database, pairs: dict[str, str], defaults: OrganizationInput) -> None:
    """Ensure each ``key -> org_id`` exists; new organizations get ``defaults``."""
    for key, org_id in pairs.items():
        async with db.read() as conn:
            try:
                await get_organization(conn, org_id)
                exists = True
            except NotFound:
                exists = False
            principal = await authenticate(conn, key)
        if not exists:
            await create_organization(
                db, defaults.model_copy(update={"name": org_id}), org_id=org_id
            )
        if principal is None:
            await store_api_key(db, org_id, "bootstrap", "admin", key)
