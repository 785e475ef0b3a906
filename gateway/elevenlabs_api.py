"""The ElevenLabs REST calls the gateway makes besides the conversation socket.

Through the ``elevenlabs`` SDK: the post-call webhook's signature check
(``webhooks.construct_event``) and fetching a finished conversation (the transcript
fallback when the webhook never came).
"""

from __future__ import annotations

import time
from typing import Any

from elevenlabs.client import AsyncElevenLabs
from elevenlabs.errors import BadRequestError

FUTURE_TOLERANCE_S = 300  # the SDK refuses old timestamps; we refuse far-future ones too


class WebhookRefused(Exception):
    """Unsigned, wrongly signed, replayed or unreadable: nothing may be processed."""


class ElevenLabsApi:
    def __init__(self, api_key: str | None, api_url: str) -> None:
        # Verifying webhooks needs no key; fetching conversations does.
        self.has_key = bool(api_key)
        self._client = AsyncElevenLabs(api_key=api_key or "unset", base_url=api_url)

    def verify_webhook(self, raw: bytes, signature: str, secret: str) -> dict[str, Any]:
        """The event, if ``signature`` is ElevenLabs' for ``raw`` within the window.

        Raises:
            WebhookRefused: with the reason (for the log, not for the caller).
        """
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRefused("body is not UTF-8") from None
        stamp = next((part[2:] for part in signature.split(",") if part.startswith("t=")), "")
        if not stamp.isdigit():
            raise WebhookRefused("signature has no timestamp")
        if int(stamp) > time.time() + FUTURE_TOLERANCE_S:
            raise WebhookRefused("timestamp in the future")
        try:
            event = self._client.webhooks.construct_event(text, signature, secret)
        except BadRequestError as exc:
            raise WebhookRefused(str(getattr(exc, "body", "") or exc)[:200]) from None
        except ValueError:  # the body passed the signature but is not JSON
            raise WebhookRefused("body is not JSON") from None
        if not isinstance(event, dict):
            raise WebhookRefused("body is not a JSON object")
        return event

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        """The conversation as the post-call webhook's ``data`` object."""
        response = await self._client.conversational_ai.conversations.get(conversation_id)
        data: dict[str, Any] = response.model_dump(mode="json", by_alias=True)
        return data
