"""Appending to a conversation's stored transcript as the scripted agent goes.

Shapes follow the SDK's transcript models: a tool call is an agent turn without a
message whose ``tool_calls`` holds ``{type, request_id, tool_name, params_as_json,
tool_has_been_called, tool_details}``; its result is the next agent turn's
``tool_results`` item ``{type, request_id, tool_name, result_value, is_error,
tool_has_been_called, tool_latency_secs}``; a system ``end_call`` result also has
``result.result_type == "end_call_success"`` (reference §6.3).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.standins.elevenlabs.records import (
    ConversationRecord,
    ToolCallRecord,
    TranscriptEntry,
)


def seconds_in_call(record: ConversationRecord) -> int:
    start = record.init_at if record.init_at is not None else record.opened_at
    return max(0, int(time.monotonic() - start))


def agent_said(record: ConversationRecord, text: str, event_id: int) -> None:
    record.transcript.append(
        TranscriptEntry("agent", text, seconds_in_call(record), agent_event_id=event_id)
    )


def user_said(record: ConversationRecord, text: str, event_id: int) -> None:
    record.transcript.append(
        TranscriptEntry("user", text, seconds_in_call(record), source_event_id=event_id)
    )


def tool_called(record: ConversationRecord, call: ToolCallRecord) -> None:
    params = orjson.dumps(call.parameters).decode()
    details: dict[str, Any]
    if call.tool_type == "webhook" and call.webhook is not None:
        details = {
            "type": "webhook",
            "method": call.webhook.method,
            "url": call.webhook.url,
            "body": orjson.dumps(call.webhook.body).decode() if call.webhook.body else None,
        }
    elif call.tool_type == "system":
        details = {}
    else:
        details = {"type": "client", "parameters": params}
    item: dict[str, Any] = {
        "type": call.tool_type,
        "request_id": call.tool_call_id,
        "tool_name": call.tool_name,
        "params_as_json": params,
        "tool_has_been_called": True,
    }
    if details:
        item["tool_details"] = details
    record.transcript.append(
        TranscriptEntry("agent", None, seconds_in_call(record), tool_calls=[item])
    )


def tool_answered(record: ConversationRecord, call: ToolCallRecord) -> None:
    result = call.result
    text = result if isinstance(result, str) else orjson.dumps(result).decode()
    item: dict[str, Any] = {
        "type": call.tool_type,
        "request_id": call.tool_call_id,
        "tool_name": call.tool_name,
        "result_value": text if result is not None else "",
        "is_error": bool(call.is_error),
        "tool_has_been_called": True,
        "tool_latency_secs": (
            round(call.result_at - call.sent_at, 3) if call.result_at is not None else None
        ),
    }
    if call.tool_type == "system" and call.tool_name == "end_call":
        item["result"] = {"result_type": "end_call_success", "status": "success"}
    if call.timed_out:
        item["error_type"] = "timeout"
    record.transcript.append(
        TranscriptEntry("agent", None, seconds_in_call(record), tool_results=[item])
    )
