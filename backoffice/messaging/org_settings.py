"""An organization's messaging settings (``settings.messaging``), validated on the way in.

What an organization decides for its messages: its sender numbers (parley's defaults
otherwise), how its email sender reads, the approved WhatsApp template (Twilio
content SID) for each template and language, and its own wording of any text. A
text is checked when it is stored, so that a send never fails later on it: the
channel and language must exist, an email needs a subject, and every ``{{variable}}``
must be one parley fills in (:data:`VARIABLES`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from backoffice.errors import Conflict
from backoffice.language import normalize_language
from backoffice.orgs.service import get_organization, update_organization
from backoffice.store.db import Database
from backoffice.store.tables import organizations

E164 = r"^\+[1-9][0-9]{6,14}$"
CHANNELS = ("sms", "whatsapp", "email")
VARIABLES = frozenset(
    {"first_name", "name", "org_name", "reference", "balance", "due_date", "breakdown",
     "breakdown_inline"}
)  # fmt: skip
_USED = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _language(tag: str) -> str:
    normal = normalize_language(tag)
    if normal is None:
        raise ValueError(f"{tag!r} is not a supported language (es, en, pt, with a region)")
    return normal


def _check_text(where: str, channel: str, text: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "email": {"subject", "text"},
        "sms": {"body"},
        "whatsapp": {"body", "content_variables"},
    }
    unknown = set(text) - allowed[channel]
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    main = "text" if channel == "email" else "body"
    if not isinstance(text.get(main), str) or not text[main].strip():
        raise ValueError(f"{where}.{main}: must not be empty")
    if channel == "email" and not (isinstance(text.get("subject"), str) and text["subject"]):
        raise ValueError(f"{where}.subject: an email needs a subject")
    used = set(_USED.findall(text[main])) | set(_USED.findall(str(text.get("subject", ""))))
    used |= set(text.get("content_variables") or [])
    strange = sorted(used - VARIABLES)
    if strange:
        raise ValueError(
            f"{where}: unknown variable(s) {', '.join(strange)}; use {', '.join(sorted(VARIABLES))}"
        )
    return text


class MessagingSettings(BaseModel):
    """Everything optional: what is left out uses parley's defaults."""

    model_config = ConfigDict(extra="forbid")

    sms_from: str | None = Field(default=None, pattern=E164, description="E.164 sender for SMS.")
    whatsapp_from: str | None = Field(
        default=None, pattern=E164, description="E.164 WhatsApp sender (no whatsapp: prefix)."
    )
    email_local_part: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="e.g. cobros"
    )
    email_from_name: str | None = Field(default=None, min_length=1, max_length=100)
    whatsapp_content_sids: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='Approved templates: {"debt_summary": {"es": "HX...", "en": "HX..."}}.',
    )
    templates: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(
        default_factory=dict,
        description='Your own wording: {"payment_reminder": {"sms": {"es": {"body": "..."}}}}.',
    )

    @field_validator("whatsapp_content_sids")
    @classmethod
    def _sids(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for template, by_language in value.items():
            if not _NAME.match(template):
                raise ValueError(f"{template!r} is not a template name")
            out[template] = {}
            for tag, sid in by_language.items():
                if not re.fullmatch(r"HX[0-9a-fA-F]{32}", sid):
                    raise ValueError(f"{template}.{tag}: a content SID looks like HX + 32 hex")
                out[template][_language(tag)] = sid
        return out

    @field_validator("templates")
    @classmethod
    def _templates(
        cls, value: dict[str, dict[str, dict[str, dict[str, Any]]]]
    ) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for template, channels in value.items():
            if not _NAME.match(template):
                raise ValueError(f"{template!r} is not a template name")
            out[template] = {}
            for channel, languages in channels.items():
                if channel not in CHANNELS:
                    raise ValueError(f"{template}: channel must be one of {', '.join(CHANNELS)}")
                out[template][channel] = {
                    _language(tag): _check_text(f"{template}.{channel}.{tag}", channel, text)
                    for tag, text in languages.items()
                }
        return out


async def get_messaging_settings(db: Database, org_id: str) -> MessagingSettings:
    """Raises: NotFound."""
    async with db.read() as conn:
        org = await get_organization(conn, org_id)
    return MessagingSettings.model_validate(org.settings.get("messaging") or {})


async def set_messaging_settings(
    db: Database, org_id: str, wanted: MessagingSettings, *, actor: str
) -> MessagingSettings:
    """Replace the organization's messaging settings (audited as an organization change).

    Raises:
        Conflict: a sender number another organization already uses (replies to it
            could not be told apart).
        NotFound: no such organization.
    """
    numbers = {n for n in (wanted.sms_from, wanted.whatsapp_from) if n}
    async with db.read() as conn:
        current = (await get_organization(conn, org_id)).settings
        if numbers:
            rows = await conn.execute(
                select(organizations.c.id, organizations.c.settings).where(
                    organizations.c.id != org_id
                )
            )
            for row in rows:
                theirs = (row.settings or {}).get("messaging") or {}
                taken = numbers & {theirs.get("sms_from"), theirs.get("whatsapp_from")}
                if taken:
                    raise Conflict(f"{', '.join(sorted(taken))} is another organization's sender")
    stored = wanted.model_dump(exclude_none=True)
    await update_organization(
        db, org_id, {"settings": {**current, "messaging": stored}}, actor=actor
    )
    return MessagingSettings.model_validate(stored)
