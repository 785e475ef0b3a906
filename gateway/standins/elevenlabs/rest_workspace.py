"""Workspace routes: secrets, HMAC webhooks and the ConvAI settings that attach them.

Why here: a webhook tool's header can name a workspace secret
(``{"secret_id": ...}``) instead of carrying the value in the agent's config, and
post-call webhooks are created as workspace webhooks and attached in
``/v1/convai/settings`` (reference §7). The stand-in resolves both at run time from
this state. Secret values are never returned by any route, as on the service.
"""

from __future__ import annotations

import secrets as token_source
from typing import Any

from gateway.standins.elevenlabs.http_front import RestRequest
from gateway.standins.elevenlabs.rest_api import RestError, Route, json_body, route, unprocessable
from gateway.standins.elevenlabs.workspace import (
    StoredSecret,
    StoredWebhook,
    Workspace,
    merge,
    new_id,
)

Json = dict[str, Any]


class WorkspaceRoutes:
    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace

    def routes(self) -> list[Route]:
        return [
            route("GET", "/v1/convai/secrets", self.list_secrets, "secrets.list"),
            route("POST", "/v1/convai/secrets", self.create_secret, "secrets.create"),
            route("GET", "/v1/convai/secrets/{secret_id}", self.get_secret, "secrets.get"),
            route("PATCH", "/v1/convai/secrets/{secret_id}", self.update_secret, "secrets.update"),
            route("DELETE", "/v1/convai/secrets/{secret_id}", self.delete_secret, "secrets.delete"),
            route("GET", "/v1/workspace/webhooks", self.list_webhooks, "webhooks.list"),
            route("POST", "/v1/workspace/webhooks", self.create_webhook, "webhooks.create"),
            route(
                "DELETE",
                "/v1/workspace/webhooks/{webhook_id}",
                self.delete_webhook,
                "webhooks.delete",
            ),
            route("GET", "/v1/convai/settings", self.get_settings, "settings.get"),
            route("PATCH", "/v1/convai/settings", self.update_settings, "settings.update"),
        ]

    # --- secrets --------------------------------------------------------------------

    def list_secrets(self, request: RestRequest) -> Json:
        return {"secrets": [_secret_view(s, full=True) for s in self._ws.secrets.values()]}

    def create_secret(self, request: RestRequest) -> Json:
        name, value = self._secret_fields(json_body(request))
        secret = StoredSecret(new_id("secret"), name, value)
        self._ws.secrets[secret.secret_id] = secret
        return _secret_view(secret, full=False)

    def get_secret(self, request: RestRequest, secret_id: str) -> Json:
        return _secret_view(self._secret(secret_id), full=True)

    def update_secret(self, request: RestRequest, secret_id: str) -> Json:
        self._secret(secret_id)
        name, value = self._secret_fields(json_body(request))
        secret = StoredSecret(secret_id, name, value)
        self._ws.secrets[secret_id] = secret
        return _secret_view(secret, full=False)

    def delete_secret(self, request: RestRequest, secret_id: str) -> Json:
        self._secret(secret_id)
        del self._ws.secrets[secret_id]
        return {}

    def _secret(self, secret_id: str) -> StoredSecret:
        secret = self._ws.secrets.get(secret_id)
        if secret is None:
            raise RestError(404, {"status": "secret_not_found", "message": "Secret not found"})
        return secret

    @staticmethod
    def _secret_fields(body: Any) -> tuple[str, str]:
        if not isinstance(body, dict):
            raise unprocessable(
                [
                    {
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary",
                        "type": "dict_type",
                    }
                ]
            )
        problems = [
            {"loc": ["body", key], "msg": "Field required (a non-empty string)", "type": "missing"}
            for key in ("name", "value")
            if not isinstance(body.get(key), str) or not body[key]
        ]
        if problems:
            raise unprocessable(problems)
        return body["name"], body["value"]

    # --- webhooks -------------------------------------------------------------------

    def list_webhooks(self, request: RestRequest) -> Json:
        return {
            "webhooks": [
                {
                    "webhook_id": hook.webhook_id,
                    "name": hook.name,
                    "webhook_url": hook.url,
                    "auth_type": "hmac",
                    "is_disabled": False,
                    "is_auto_disabled": False,
                    "created_at_unix": 0,
                }
                for hook in self._ws.webhooks.values()
            ]
        }

    def create_webhook(self, request: RestRequest) -> Json:
        body = json_body(request)
        settings = body.get("settings") if isinstance(body, dict) else None
        if not isinstance(settings, dict):
            raise unprocessable(
                [{"loc": ["body", "settings"], "msg": "Field required", "type": "missing"}]
            )
        problems = [
            {"loc": ["body", "settings", key], "msg": "Field required", "type": "missing"}
            for key in ("name", "webhook_url")
            if not isinstance(settings.get(key), str) or not settings[key]
        ]
        if settings.get("auth_type", "hmac") != "hmac":
            problems.append(
                {
                    "loc": ["body", "settings", "auth_type"],
                    "msg": "only 'hmac' is supported",
                    "type": "literal_error",
                }
            )
        if problems:
            raise unprocessable(problems)
        hook = StoredWebhook(
            webhook_id=new_id("webhook"),
            name=settings["name"],
            url=settings["webhook_url"],
            secret=f"wsec_{token_source.token_hex(24)}",
            request_headers={
                str(k): str(v) for k, v in (settings.get("request_headers") or {}).items()
            },
        )
        self._ws.webhooks[hook.webhook_id] = hook
        return {"webhook_id": hook.webhook_id, "webhook_secret": hook.secret}

    def delete_webhook(self, request: RestRequest, webhook_id: str) -> Json:
        if self._ws.webhooks.pop(webhook_id, None) is None:
            raise RestError(404, {"status": "webhook_not_found", "message": "Webhook not found"})
        return {"status": "ok"}

    # --- settings -------------------------------------------------------------------

    def get_settings(self, request: RestRequest) -> Json:
        return self._ws.convai_settings

    def update_settings(self, request: RestRequest) -> Json:
        body = json_body(request)
        if not isinstance(body, dict):
            raise unprocessable(
                [
                    {
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary",
                        "type": "dict_type",
                    }
                ]
            )
        hook_id = (body.get("webhooks") or {}).get("post_call_webhook_id")
        if hook_id is not None and hook_id not in self._ws.webhooks:
            raise unprocessable(
                [
                    {
                        "loc": ["body", "webhooks", "post_call_webhook_id"],
                        "msg": f"webhook {hook_id} does not exist",
                        "type": "value_error",
                    }
                ]
            )
        self._ws.convai_settings = merge(self._ws.convai_settings, body)
        return self._ws.convai_settings


def _secret_view(secret: StoredSecret, *, full: bool) -> Json:
    view: Json = {"type": "stored", "secret_id": secret.secret_id, "name": secret.name}
    if full:
        view["used_by"] = {"tools": [], "agents": []}
    return view
