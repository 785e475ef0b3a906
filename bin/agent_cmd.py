"""``parley agent sync``: create or update the ElevenLabs agent parley runs on.

It builds the agent from the tool registry and the shipped prompt
(:mod:`gateway.agent_config`) and sends it with the ``elevenlabs`` SDK: an update
(partial ``PATCH``) of ``PARLEY_ELEVENLABS_AGENT_ID`` when it is set, else a new agent,
whose id it prints. ``--tool-mode webhook`` makes the tools server tools that
ElevenLabs calls at ``PARLEY_PUBLIC_URL/tools/{name}``; their secret header's value,
``PARLEY_TOOL_SECRET``, is stored as the workspace secret ``parley_tool_secret``
(created or updated first) so it never appears in the agent's configuration.
``--dry-run`` prints the request as JSON and sends nothing. Exit status: 0 done, 1
ElevenLabs refused or could not be reached, 2 bad arguments or settings.

Wiring (``bin/cli.py``): ``agent_cmd.add_parser(sub)``; the parser's ``func`` is
:func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from config.logging import configure_logging
from config.settings import AgentSyncSettings, SettingsError, load_agent_sync_settings

if TYPE_CHECKING:  # the SDK takes seconds to import: only ``agent sync`` pays for it
    from elevenlabs import AsyncElevenLabs

    from gateway.agent_config import AgentDefinition

ToolMode = Literal["client", "webhook"]
AGENT_NAME = "parley collections"
TOOL_SECRET_NAME = "parley_tool_secret"  # noqa: S105 - a secret's name (as in agent_config)

Json = dict[str, Any]
Build = Callable[[str | None], "AgentDefinition"]
#: Stands for the workspace secret's id in a dry run (it is known only once stored).
DRY_RUN_SECRET_ID = f"<secret_id of {TOOL_SECRET_NAME}>"
SDK_TIMEOUT_S = 30.0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``agent sync`` to the ``parley`` command's subparsers."""
    agent: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="manage the ElevenLabs agent"
    )
    what = agent.add_subparsers(dest="agent_command", required=True, metavar="{sync}")
    sync = what.add_parser(
        "sync",
        help="create or update the agent (prompt, tools, voice, language)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    sync.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    sync.add_argument(
        "--tool-mode",
        choices=["client", "webhook"],
        default="client",
        help="client tools over the call's socket (default) or server tools over HTTPS",
    )
    sync.add_argument("--name", default=AGENT_NAME, help=f"agent name (default: {AGENT_NAME})")
    sync.add_argument("--language", help="default language (default: PARLEY_DEFAULT_LANGUAGE)")
    sync.add_argument("--voice-id", help="ElevenLabs voice (default: the locale's, if any)")
    sync.set_defaults(func=run)
    return agent


@dataclass(frozen=True, slots=True)
class SyncResult:
    action: str  # "created" | "updated"
    agent_id: str
    tools: list[str]
    secret_id: str | None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import httpx
    from elevenlabs.core.api_error import ApiError

    from agent_tools.catalog import default_registry
    from gateway.agent_config import build_agent_definition
    from gateway.agent_tool_schema import SchemaError

    out = out or sys.stdout
    try:
        settings = load_agent_sync_settings()
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    mode: ToolMode = args.tool_mode
    problems = _missing(settings, mode, dry_run=args.dry_run)
    if problems:
        print("parley: agent sync needs:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2

    def definition(secret_id: str | None) -> AgentDefinition:
        return build_agent_definition(
            default_registry(),
            tool_mode=mode,
            public_url=settings.public_url,
            tool_secret={"secret_id": secret_id} if secret_id else None,
            language=args.language or settings.default_language,
            voice_id=args.voice_id,
            name=args.name,
        )

    try:
        if args.dry_run:
            json.dump(dry_run(settings, mode, definition), out, indent=2, ensure_ascii=False)
            out.write("\n")
            return 0
        result = asyncio.run(sync_with_settings(settings, mode, definition))
    except SchemaError as exc:
        print(f"parley: a tool cannot be sent to ElevenLabs: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"parley: ElevenLabs refused it: {_api_error(exc, settings)}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(
            f"parley: cannot reach ElevenLabs at {settings.elevenlabs_api_url}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    tools = ", ".join(result.tools)
    print(f"{result.action} agent {result.agent_id} with tools: {tools}", file=out)
    if result.action == "created":
        print(f"set PARLEY_ELEVENLABS_AGENT_ID={result.agent_id}", file=out)
    return 0


def dry_run(settings: AgentSyncSettings, mode: ToolMode, definition: Build) -> Json:
    """What :func:`sync_agent` would send, as JSON (the secret's value left out)."""
    agent = definition(DRY_RUN_SECRET_ID if mode == "webhook" else None)
    agent_id = settings.elevenlabs_agent_id
    plan: Json = {
        "action": "update" if agent_id else "create",
        "request": {
            "method": "PATCH" if agent_id else "POST",
            "path": f"/v1/convai/agents/{agent_id}" if agent_id else "/v1/convai/agents/create",
            "body": agent.request_body(),
        },
    }
    if mode == "webhook":
        plan["secret"] = {
            "name": TOOL_SECRET_NAME,
            "value": "(the value of PARLEY_TOOL_SECRET, not printed)",
            "request": "PATCH /v1/convai/secrets/{id} if it exists, else POST /v1/convai/secrets",
        }
    return plan


async def sync_with_settings(
    settings: AgentSyncSettings, mode: ToolMode, definition: Build
) -> SyncResult:
    from elevenlabs import AsyncElevenLabs

    assert settings.elevenlabs_api_key is not None
    client = AsyncElevenLabs(
        api_key=settings.elevenlabs_api_key.get_secret_value(),
        base_url=settings.elevenlabs_api_url,
        timeout=SDK_TIMEOUT_S,
    )
    secret = settings.tool_secret.get_secret_value() if settings.tool_secret else None
    return await sync_agent(
        client,
        definition,
        agent_id=settings.elevenlabs_agent_id or None,
        tool_secret=secret if mode == "webhook" else None,
    )


async def sync_agent(
    client: AsyncElevenLabs,
    definition: Build,
    *,
    agent_id: str | None,
    tool_secret: str | None,
) -> SyncResult:
    """Store the tool secret (when given), then create or update the agent.

    Args:
        definition: ``(secret_id or None) -> AgentDefinition``.

    Raises:
        ApiError: ElevenLabs refused a request (401 bad key, 404 unknown agent, 422...).
        httpx.HTTPError: ElevenLabs could not be reached.
    """
    from elevenlabs.types import AgentPlatformSettingsRequestModel, ConversationalConfig

    secret_id = await _store_secret(client, tool_secret) if tool_secret is not None else None
    agent = definition(secret_id)
    config = ConversationalConfig.model_validate(agent.conversation_config)
    settings = AgentPlatformSettingsRequestModel.model_validate(agent.platform_settings)
    agents = client.conversational_ai.agents
    tools = [tool["name"] for tool in agent.tools()]
    if agent_id:
        await agents.update(
            agent_id,
            conversation_config=config,
            platform_settings=settings,
            name=agent.name,
            tags=list(agent.tags),
        )
        return SyncResult("updated", agent_id, tools, secret_id)
    created = await agents.create(
        conversation_config=config,
        platform_settings=settings,
        name=agent.name,
        tags=list(agent.tags),
    )
    return SyncResult("created", created.agent_id, tools, secret_id)


async def _store_secret(client: AsyncElevenLabs, value: str) -> str:
    """Create or update the workspace secret ``parley_tool_secret``; its id."""
    secrets = client.conversational_ai.secrets
    cursor: str | None = None
    while True:
        page = await secrets.list(cursor=cursor) if cursor else await secrets.list()
        for stored in page.secrets:
            if stored.name == TOOL_SECRET_NAME:
                await secrets.update(stored.secret_id, name=TOOL_SECRET_NAME, value=value)
                return str(stored.secret_id)
        cursor = page.next_cursor
        if not cursor:
            break
    created = await secrets.create(name=TOOL_SECRET_NAME, value=value)
    return str(created.secret_id)


def _missing(settings: AgentSyncSettings, mode: ToolMode, *, dry_run: bool) -> list[str]:
    problems = []
    if not dry_run and settings.elevenlabs_api_key is None:
        problems.append("PARLEY_ELEVENLABS_API_KEY: is required but not set")
    if mode == "webhook":
        if not settings.public_url:
            problems.append("PARLEY_PUBLIC_URL: is required for --tool-mode webhook")
        if settings.tool_secret is None and not dry_run:
            problems.append("PARLEY_TOOL_SECRET: is required for --tool-mode webhook")
    return problems


def _api_error(exc: Any, settings: AgentSyncSettings) -> str:
    detail = exc.body.get("detail", exc.body) if isinstance(exc.body, dict) else exc.body
    text = f"HTTP {exc.status_code}: {json.dumps(detail, ensure_ascii=False)}"
    if exc.status_code == 404 and settings.elevenlabs_agent_id:
        text += f" (is PARLEY_ELEVENLABS_AGENT_ID={settings.elevenlabs_agent_id} right?)"
    if exc.status_code == 401:
        text += " (check PARLEY_ELEVENLABS_API_KEY)"
    return text
