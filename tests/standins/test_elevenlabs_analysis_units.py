"""Pure pieces of the stand-in's REST side: merging patches, reporting the analysis."""

from __future__ import annotations

from gateway.standins.elevenlabs.post_call import build_analysis
from gateway.standins.elevenlabs.script import Analysis, result_variables
from gateway.standins.elevenlabs.workspace import merge


def test_a_patch_merges_objects_and_replaces_lists() -> None:
    base = {"agent": {"language": "es", "prompt": {"prompt": "p", "tools": [{"name": "a"}]}}}
    patched = merge(base, {"agent": {"prompt": {"tools": [{"name": "b"}]}, "language": "en"}})
    assert patched == {
        "agent": {"language": "en", "prompt": {"prompt": "p", "tools": [{"name": "b"}]}}
    }
    assert base["agent"]["language"] == "es"  # the original is untouched


def test_only_configured_fields_are_reported_and_missing_ones_are_null() -> None:
    scripted = Analysis(
        data={"disposition": "promise_to_pay", "sentiment": "{{mood}}", "unconfigured": 1},
        summary="Paid by {{name}}.",
        call_successful="success",
    )
    configured = {
        "disposition": {"type": "string", "description": "d"},
        "sentiment": {"type": "string", "description": "s"},
        "cooperation": {"type": "string", "description": "c"},
    }
    report = build_analysis(scripted, configured, {"mood": "positive", "name": "Ann"}, "x")
    values = {k: v["value"] for k, v in report["data_collection_results"].items()}
    assert values == {"disposition": "promise_to_pay", "sentiment": "positive", "cooperation": None}
    assert (
        report["data_collection_results"]["cooperation"]["json_schema"] == configured["cooperation"]
    )
    assert report["transcript_summary"] == "Paid by Ann."
    unscripted = build_analysis(None, None, {}, "The agent said: hi")
    assert unscripted["call_successful"] == "unknown"
    assert unscripted["transcript_summary"] == "The agent said: hi"
    assert unscripted["data_collection_results"] == {}


def test_tool_results_become_variables() -> None:
    assert result_variables('{"a": {"b": 2}, "c": [1]}') == {
        "tool_result": '{"a": {"b": 2}, "c": [1]}',
        "tool_result.a.b": 2,
    }
    assert result_variables("plain text") == {"tool_result": "plain text"}
