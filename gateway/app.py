"""The gateway's Starlette application: routes in one list, wiring in one factory.

Nothing connects at import time; :func:`create_app` builds the services from settings
and the lifespan closes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from agent_tools.catalog import default_registry
from backoffice.api.app import routes as backoffice_routes
from backoffice.messaging.provider_accounts import MessagingConfig
from backoffice.messaging.providers import Messaging
from backoffice.orgs.bootstrap import bootstrap_keys
from backoffice.orgs.models import OrganizationInput
from backoffice.store.db import Database
from config.settings import Settings
from gateway import (
    live_pages,
    routes_api,
    routes_elevenlabs,
    routes_live,
    routes_media,
    routes_messaging,
    routes_tools,
    routes_twilio,
)
from gateway.agent_session import AgentConnector, ElevenLabsSignedUrls
from gateway.call_limits import CallLimiter, InProcessLimiter
from gateway.call_limits_redis import RedisLimiter
from gateway.calls import CallRegistry, InMemoryCallRegistry
from gateway.calls_redis import RedisCallRegistry
from gateway.elevenlabs_api import ElevenLabsApi
from gateway.gc_policy import CollectorPolicy
from gateway.hub import EventBus, InProcessBus
from gateway.live_redis import RedisBus
from gateway.partner_resend import resend_forever
from gateway.post_call_sweep import sweep_forever
from gateway.prewarm import PrewarmPool
from gateway.redis_link import RedisLink, RedisUnavailable, new_gateway_id
from gateway.services import Services
from gateway.twilio_rest import TwilioVoice
from gateway.twilio_signature import TwilioSignatures

#: How often each process looks for call reports to send again to a partner's system.
PARTNER_RESEND_S = 15.0

def build_services(settings: Settings, database: Database) -> Services:
    """Wire one process's shared services from its settings (no I/O happens here)."""
    api_key = settings.elevenlabs_api_key
    signed = (
        ElevenLabsSignedUrls(api_key.get_secret_value(), settings.elevenlabs_api_url)
        if api_key is not None and api_key.get_secret_value()
        else None
    )
    connector = AgentConnector(
        agent_id=settings.elevenlabs_agent_id,
        ws_url=settings.elevenlabs_ws_url,
        signed_urls=signed,
        connect_timeout_s=settings.agent_connect_timeout_s,
    )
    token = settings.twilio_auth_token.get_secret_value()
    gateway_id = settings.gateway_id or new_gateway_id()
    link: RedisLink | None = None
    calls: CallRegistry
    hub: EventBus
    limits: CallLimiter
    if settings.redis_url:
        link = RedisLink(settings.redis_url, gateway_id)
        calls = RedisCallRegistry(link, live_ttl_s=settings.call_ttl_s)
        hub = RedisBus(link)
        limits = RedisLimiter(link)
    else:
        calls = InMemoryCallRegistry(gateway_id=gateway_id)
        hub = InProcessBus()
        limits = InProcessLimiter()
    return Services(
        settings=settings,
        calls=calls,
        hub=hub,
        limits=limits,
        redis=link,
        connector=connector,
        prewarm=PrewarmPool(connector, settings.prewarm_timeout_s),
        voice=TwilioVoice(settings.twilio_account_sid, token, settings.twilio_api_url),
        tools=default_registry(settings.tool_timeout_s),
        signatures=TwilioSignatures(token, settings.public_url, settings.media_stream_url),
        database=database,
        elevenlabs=ElevenLabsApi(
            api_key.get_secret_value() if api_key is not None else None,
            settings.elevenlabs_api_url,
        ),
    )


async def health(request: Request) -> Response:
    """Readiness for the load balancer: 503 while draining (finish calls, take no new)."""
    services: Services = request.app.state.services
    ready = not services.draining
    body: dict[str, object] = {
        "status": "ok" if ready else "draining",
        "gateway_id": services.gateway_id,
        "active_calls": len(services.runners),
    }
    if services.redis is not None:
        body["redis"] = "ok" if services.redis.healthy else "unavailable"
        body["live"] = "degraded" if services.hub.degraded else "ok"
    return JSONResponse(body, status_code=200 if ready else 503)


async def redis_unavailable(request: Request, exc: Exception) -> Response:
    """A request that needed the shared registry while Redis was away: retry later."""
    return JSONResponse(
        {"error": "the shared call registry (Redis) is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def open_database(settings: Settings) -> Database:
    """Open (and migrate) the store, and make sure the bootstrap keys exist."""
    database = await Database.open(settings.database_url)
    defaults = OrganizationInput(
        name="bootstrap",
        country=settings.default_country,
        locale=settings.default_locale,
        timezone=settings.default_timezone,
    )
    await bootstrap_keys(database, settings.operator_keys, defaults)
    return database


def create_app(settings: Settings, *, freeze_heap: bool = False) -> Starlette:
    """The gateway app.

    Args:
        freeze_heap: apply the serving process's collector policy
            (``gateway/gc_policy.py``): what start-up built is frozen out of the
            collector's sight, full collections are spaced out and run when the last
            call ends. ``parley serve`` sets it; tests, which build many apps in one
            process, do not.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.database = await open_database(settings)
        app.state.services = build_services(settings, app.state.database)
        app.state.services.start()
        services = app.state.services
        app.state.messaging = Messaging(
            MessagingConfig.from_settings(settings), clock=lambda: app.state.services.clock()
        )
        services.tool_runtime.messaging = app.state.messaging
        if settings.post_call_sweep_s > 0 and services.elevenlabs.has_key:
            services.sweeper = asyncio.create_task(
                sweep_forever(services, settings.post_call_sweep_s), name="post-call-sweep"
            )
        services.resender = asyncio.create_task(
            resend_forever(app.state.database, services.records, PARTNER_RESEND_S),
            name="partner-resend",
        )
        if freeze_heap:
            services.collector = CollectorPolicy()
            services.collector.start()
        try:
            yield
        finally:
            await app.state.services.aclose()
            await app.state.messaging.aclose()
            await app.state.database.close()

    def database(request: Request) -> Database:
        db: Database = request.app.state.database
        return db

    routes = [
        Route("/twilio/voice", routes_twilio.voice, methods=["POST"]),
        Route("/twilio/status", routes_twilio.status, methods=["POST"]),
        Route("/twilio/whisper", routes_twilio.whisper, methods=["POST"]),
        Route("/twilio/transfer", routes_twilio.transfer_result, methods=["POST"]),
        Route("/twilio/messages/status", routes_messaging.message_status, methods=["POST"]),
        Route("/twilio/messages/inbound", routes_messaging.message_inbound, methods=["POST"]),
        Route("/resend/events", routes_messaging.resend_events, methods=["POST"]),
        Route("/tools/{name}", routes_tools.tool_webhook, methods=["POST"]),
        Route("/elevenlabs/post-call", routes_elevenlabs.post_call, methods=["POST"]),
        WebSocketRoute("/twilio/media", routes_media.MediaSocket()),
        WebSocketRoute("/live", routes_live.live),
        *live_pages.routes(),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *routes_api.api.routes(database),
        *backoffice_routes(database, extra=routes_api.api.endpoints),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={RedisUnavailable: redis_unavailable},
    )
    app.state.settings = settings
    return app
