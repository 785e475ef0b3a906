"""After a conversation: its analysis, and the signed ``post_call_transcription`` webhook.

Signature (reference §7.1, SDK ``webhooks.construct_event``): header
``ElevenLabs-Signature: t=<unix seconds>,v0=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
The envelope is ``{"type": "post_call_transcription", "event_timestamp", "data"}``
with ``data`` the object ``GET /v1/convai/conversations/{id}`` returns. The service
does not retry; :class:`~gateway.standins.elevenlabs.options.PostCallWebhook` lets
a test send duplicates, delay, lose or spoil deliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog

from gateway.standins.elevenlabs.options import PostCallWebhook
from gateway.standins.elevenlabs.script import Analysis, JsonScalar, fill

log = structlog.get_logger(__name__)
Json = dict[str, Any]
SIGNATURE_HEADER = "ElevenLabs-Signature"


def sign(secret: str, body: str, timestamp: int) -> str:
    """The ``ElevenLabs-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v0={digest}"


def build_analysis(
    analysis: Analysis | None,
    configured: Mapping[str, Json] | None,
    variables: Mapping[str, JsonScalar],
    fallback_summary: str,
) -> Json:
    """``analysis`` as the service reports it.

    Args:
        analysis: what the script says the analysis found (None: nothing found).
        configured: the stored agent's ``data_collection`` items, or None without a
            stored agent (then every scripted value is reported).
        variables: to fill ``{{var}}`` in string values and the summary.
        fallback_summary: the summary when the script gives none.
    """
    found = analysis or Analysis(call_successful="unknown")
    values = dict(found.data)
    ids = list(configured) if configured is not None else list(values)
    results: Json = {}
    for key in ids:
        value = values.get(key)
        if isinstance(value, str):
            value = fill(value, variables)
        item: Json = {
            "data_collection_id": key,
            "value": value,
            "rationale": "Stated during the call." if value is not None else "Not discussed.",
        }
        if configured is not None and isinstance(configured.get(key), dict):
            item["json_schema"] = configured[key]
        results[key] = item
    return {
        "evaluation_criteria_results": {},
        "data_collection_results": results,
        "call_successful": found.call_successful,
        "transcript_summary": fill(found.summary, variables) if found.summary else fallback_summary,
        "call_summary_title": found.title or None,
    }


@dataclass(slots=True)
class Delivery:
    """One POST the stand-in made to a post-call webhook receiver."""

    conversation_id: str
    url: str
    body: str
    headers: dict[str, str]
    status: int | None = None
    error: str | None = None
    at: float = field(default_factory=time.monotonic)


async def deliver(
    client: httpx.AsyncClient,
    hook: PostCallWebhook,
    conversation_id: str,
    data: Json,
    deliveries: list[Delivery],
) -> None:
    """Send ``hook.copies`` copies of the event (unless ``lost``), appending to ``deliveries``."""
    if hook.fault == "lost":
        return
    if hook.delay_s:
        await asyncio.sleep(hook.delay_s)
    envelope = {
        "type": "post_call_transcription",
        "event_timestamp": int(time.time()),
        "data": data,
    }
    body = orjson.dumps(envelope).decode()
    for _ in range(max(1, hook.copies)):
        sent_body, headers = _spoil(hook, body)
        delivery = Delivery(conversation_id, hook.url, sent_body, headers)
        deliveries.append(delivery)
        try:
            response = await client.post(
                hook.url, content=sent_body.encode(), headers=headers, timeout=hook.timeout_s
            )
            delivery.status = response.status_code
        except httpx.HTTPError as exc:
            delivery.error = repr(exc)
            log.info("elevenlabs_standin.webhook_failed", url=hook.url, error=repr(exc))


def _spoil(hook: PostCallWebhook, body: str) -> tuple[str, dict[str, str]]:
    headers = {"content-type": "application/json", **hook.headers}
    now = int(time.time())
    fault = hook.fault
    if fault == "malformed_json":
        body = body[: len(body) // 2]
    if fault == "no_signature":
        return body, headers
    secret = hook.secret + "-wrong" if fault == "wrong_secret" else hook.secret
    stamp = now - hook.stale_by_s if fault == "stale" else now
    headers[SIGNATURE_HEADER] = sign(secret, body, stamp)
    if fault == "tampered_body":
        body = body.replace('"status":"done"', '"status":"DONE"', 1) + " "
    return body, headers
