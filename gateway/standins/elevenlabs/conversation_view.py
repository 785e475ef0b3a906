"""A conversation as the service reports it after the fact: REST and post-call webhook.

Why one function for both: the ``post_call_transcription`` webhook's ``data`` is the
same object as ``GET /v1/convai/conversations/{id}`` (reference §7), and a gateway
that falls back from one to the other must find the same fields. Shapes follow the
SDK's ``GetConversationResponseModel`` (``transcript[]`` with role, message,
time_in_call_secs, tool_calls, tool_results, interrupted; ``metadata``; ``analysis``;
``conversation_initiation_client_data``), checked against it in the tests.

``cost`` is in credits: :attr:`AgentOptions.cost_per_minute` per minute, at least 1.
"""

from __future__ import annotations

import math
from typing import Any

from gateway.standins.elevenlabs.records import ConversationRecord, TranscriptEntry

Json = dict[str, Any]


def conversation_json(record: ConversationRecord, *, cost_per_minute: int = 1000) -> Json:
    """The full conversation (``GetConversationResponseModel``)."""
    duration = record.duration_s
    init = record.init or {}
    transcript = [_entry(record, entry) for entry in record.transcript]
    metadata: Json = {
        "start_time_unix_secs": int(record.started_unix),
        "accepted_time_unix_secs": int(record.started_unix),
        "call_duration_secs": round(duration),
        "cost": max(1, math.ceil(duration / 60 * cost_per_minute)),
        "termination_reason": record.termination_reason or "",
        "main_language": record.language or record.script_language or "en",
        "text_only": False,
        "phone_call": None,
    }
    if record.failed and record.errors_sent:
        error = record.errors_sent[-1]
        metadata["error"] = {"code": error.get("code", 1011), "reason": error.get("message")}
    return {
        "agent_id": record.agent_id,
        "conversation_id": record.conversation_id,
        "status": record.status,
        "user_id": init.get("user_id"),
        "transcript": transcript,
        "metadata": metadata,
        "analysis": record.analysis if record.analysis_ready else None,
        "conversation_initiation_client_data": {
            "conversation_config_override": init.get("conversation_config_override") or {},
            "custom_llm_extra_body": init.get("custom_llm_extra_body") or {},
            "user_id": init.get("user_id"),
            "source_info": init.get("source_info"),
            "dynamic_variables": dict(record.dynamic_variables),
        },
        "user_message_count": sum(1 for e in transcript if e["role"] == "user" and e["message"]),
        "agent_message_count": sum(1 for e in transcript if e["role"] == "agent" and e["message"]),
        "has_audio": record.audio_bytes_received > 0 or _agent_audio(record),
        "has_user_audio": record.audio_bytes_received > 0,
        "has_response_audio": _agent_audio(record),
        "has_auxiliary_audio": False,
    }


def conversation_summary(record: ConversationRecord, *, cost_per_minute: int = 1000) -> Json:
    """One item of ``GET /v1/convai/conversations`` (``ConversationSummaryResponseModel``)."""
    full = conversation_json(record, cost_per_minute=cost_per_minute)
    analysis = full["analysis"] or {}
    return {
        "agent_id": record.agent_id,
        "conversation_id": record.conversation_id,
        "start_time_unix_secs": full["metadata"]["start_time_unix_secs"],
        "call_duration_secs": full["metadata"]["call_duration_secs"],
        "cost": full["metadata"]["cost"],
        "message_count": len(full["transcript"]),
        "user_message_count": full["user_message_count"],
        "agent_message_count": full["agent_message_count"],
        "status": full["status"],
        "termination_reason": full["metadata"]["termination_reason"],
        "call_successful": analysis.get("call_successful", "unknown"),
        "transcript_summary": analysis.get("transcript_summary"),
        "main_language": full["metadata"]["main_language"],
        "tool_names": sorted({call.tool_name for call in record.tool_calls}),
    }


def _entry(record: ConversationRecord, entry: TranscriptEntry) -> Json:
    message = entry.message
    original = None
    interrupted = False
    if entry.agent_event_id is not None:
        turn = next((t for t in record.agent_turns if t.event_id == entry.agent_event_id), None)
        if turn is not None and turn.interrupted:
            interrupted = True
            original = turn.text
            message = turn.corrected_text if turn.corrected_text is not None else turn.text
    return {
        "role": entry.role,
        "message": message,
        "time_in_call_secs": entry.time_in_call_secs,
        "tool_calls": entry.tool_calls,
        "tool_results": entry.tool_results,
        "interrupted": interrupted,
        "original_message": original,
        "source_event_id": entry.source_event_id,
        "conversation_turn_metrics": {},
    }


def _agent_audio(record: ConversationRecord) -> bool:
    return any(turn.audio_bytes_sent for turn in record.agent_turns)
