"""Settings from ``PARLEY_*`` environment variables (and an optional ``.env`` file).

Start-up must fail loudly and early: a gateway that boots with a wrong auth token
would refuse every Twilio request in production, so a missing or malformed setting
stops the process with a message naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PARLEY_"
DEFAULT_ELEVENLABS_WS_URL = "wss://api.elevenlabs.io/v1/convai/conversation"
DEFAULT_ELEVENLABS_API_URL = "https://api.elevenlabs.io"
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
DEFAULT_RESEND_API_URL = "https://api.resend.com"

PositiveSeconds = Annotated[float, Field(gt=0)]
S = TypeVar("S", bound=BaseSettings)


class SettingsError(Exception):
    """Raised when the environment does not describe a usable configuration.

    The message lists every offending variable by its environment name, one per line,
    so an operator can fix them all in one go.
    """


def _check_url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"must be an absolute {what} URL starting with {allowed}")
    return value.rstrip("/")


class StoreSettings(BaseSettings):
    """What the backoffice's own commands need (``parley import``, ``parley migrate``):
    the store and its keys, no provider credentials."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite+aiosqlite:///parley.db"
    # Keys the digests of document numbers (HMAC-SHA256), so a stolen database cannot
    # be matched against a list of known numbers. The default is for development only:
    # production MUST set PARLEY_SECRET_KEY (changing it later orphans existing digests).
    secret_key: SecretStr = Field(
        default=SecretStr("parley-development-secret-key-do-not-use-in-production"),
        description="Server-side key for document digests; set it in production.",
    )
    log_level: str = "INFO"

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use a long random string)")
        return value


class Settings(StoreSettings):
    """Everything the gateway reads from its environment.

    Provider credentials are ``SecretStr`` so that they never appear in a repr, a log
    line or a traceback.
    """

    public_url: str = Field(description="Public base URL Twilio reaches us at (https://...).")
    twilio_account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: SecretStr
    twilio_api_url: str = DEFAULT_TWILIO_API_URL
    twilio_from_number: str = Field(default="", pattern=r"^(\+[1-9][0-9]{6,14})?$")
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_agent_id: str = Field(min_length=1)
    elevenlabs_ws_url: str = DEFAULT_ELEVENLABS_WS_URL
    elevenlabs_api_url: str = DEFAULT_ELEVENLABS_API_URL
    redis_url: str | None = Field(
        default=None,
        description="Set it to run many gateway processes: registry, live bus, limits in Redis.",
    )
    gateway_id: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="This process's name among the gateways (default: host-pid-random).",
    )
    call_ttl_s: PositiveSeconds = Field(
        default=20.0,
        description="A call whose process stops renewing it leaves the shared registry after this.",
    )
    drain_timeout_s: float = Field(
        default=300.0,
        ge=0,
        description="On SIGTERM, how long active calls may go on before they are ended.",
    )
    org_max_concurrent_calls: int | None = Field(
        default=None, ge=1, description="Default per-organization limit of calls at once."
    )
    org_calls_per_second: float | None = Field(
        default=None, gt=0, description="Default per-organization limit of calls started a second."
    )
    tool_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Shared secret ElevenLabs sends in X-Parley-Tool-Secret on server-tool webhooks; "
            "unset refuses every server-tool webhook."
        ),
    )
    elevenlabs_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret of the post-call webhook; unset refuses every post-call.",
    )
    live_recheck_s: PositiveSeconds = Field(
        default=5.0,
        description=(
            "How often an open WS /live or listen-in socket checks that its key or session"
            " still holds (revoked or signed out: closed)."
        ),
    )
    post_call_sweep_s: float = Field(
        default=300.0,
        ge=0,
        description="How often calls left without analysis are fetched from ElevenLabs (0: never).",
    )

    # Messaging with parley's own (managed) provider accounts; organizations that bring
    # their own keys (PUT /api/org/credentials) use theirs instead.
    twilio_sms_from: str = Field(default="", pattern=r"^(\+[1-9][0-9]{6,14})?$")
    twilio_whatsapp_from: str = Field(default="", pattern=r"^(\+[1-9][0-9]{6,14})?$")
    resend_api_key: SecretStr | None = None
    resend_api_url: str = DEFAULT_RESEND_API_URL
    resend_webhook_secret: SecretStr | None = None
    email_from_local_part: str = Field(default="avisos", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")

    api_keys: str = Field(
        default="",
        description="Operator API keys as comma-separated org_id:key pairs.",
    )
    inbound_org_id: str = Field(
        default="default", min_length=1, description="Organization that owns inbound calls."
    )
    default_country: str = Field(default="ES", pattern=r"^[A-Z]{2}$")
    default_locale: str = "es-ES"
    default_timezone: str = "Europe/Madrid"
    recordings_dir: Path = Path("recordings")
    prewarm: bool = Field(
        default=True, description="Open the agent session at the TwiML request (recommended)."
    )
    prewarm_timeout_s: PositiveSeconds = 30.0
    stream_token_ttl_s: PositiveSeconds = 120.0
    tool_timeout_s: PositiveSeconds = 8.0
    end_call_max_wait_s: PositiveSeconds = 15.0
    agent_connect_timeout_s: PositiveSeconds = 5.0
    voicemail_message: str = (
        "Hello, this is a courtesy call. Please call us back at your earliest convenience."
    )
    apology_message: str = (
        "We are sorry, we are having technical difficulties. We will call you back shortly."
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"), "http(s)")

    @field_validator("tool_secret")
    @classmethod
    def _tool_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_tool_secret(value)

    @field_validator("twilio_api_url", "elevenlabs_api_url", "resend_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"), "http(s)")

    @field_validator("elevenlabs_ws_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        return _check_url(value, ("wss", "ws"), "websocket")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        return _check_url(value, ("redis", "rediss", "unix"), "redis")

    @field_validator("api_keys")
    @classmethod
    def _api_keys(cls, value: str) -> str:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            org, sep, key = pair.partition(":")
            if not sep or not org or len(key) < 16:
                raise ValueError("each entry must be org_id:key with a key of 16+ characters")
        return value

    @property
    def operator_keys(self) -> dict[str, str]:
        """Map of API key to the organization it belongs to."""
        keys: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.api_keys.split(","))):
            org, _, key = pair.partition(":")
            keys[key] = org
        return keys

    @property
    def media_stream_url(self) -> str:
        """The ``<Stream url>`` Twilio dials: the public URL with a websocket scheme."""
        parts = urlsplit(self.public_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/twilio/media"


def _check_tool_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < 16:
        raise ValueError("must be at least 16 characters (use a long random string)")
    return value


class AgentSyncSettings(BaseSettings):
    """What ``parley agent sync`` reads: the ElevenLabs account and, for server tools,
    where ElevenLabs reaches the gateway and the secret it presents there.

    Everything is optional here; the command says which variable its mode lacks.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_agent_id: str = ""
    elevenlabs_api_url: str = DEFAULT_ELEVENLABS_API_URL
    public_url: str | None = None
    tool_secret: SecretStr | None = None
    default_language: str = Field(default="es", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    log_level: str = "INFO"

    @field_validator("elevenlabs_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"), "http(s)")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return _check_url(value, ("https", "http"), "http(s)") if value else None

    @field_validator("tool_secret")
    @classmethod
    def _tool_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_tool_secret(value)


def load_agent_sync_settings(**overrides: object) -> AgentSyncSettings:
    """Read ``parley agent sync``'s settings.

    Raises:
        SettingsError: naming each ``PARLEY_*`` variable that is malformed.
    """
    return _load(AgentSyncSettings, overrides)


def load_settings(**overrides: object) -> Settings:
    """Read the gateway's settings from the environment, overrides on top.

    Raises:
        SettingsError: naming each ``PARLEY_*`` variable that is missing or malformed.
    """
    return _load(Settings, overrides)


def load_store_settings(**overrides: object) -> StoreSettings:
    """Read what the backoffice commands need (no provider credentials required).

    Raises:
        SettingsError: naming each ``PARLEY_*`` variable that is malformed.
    """
    return _load(StoreSettings, overrides)


def _load(cls: type[S], overrides: dict[str, object]) -> S:
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            name = ENV_PREFIX + field.upper()
            reason = "is required but not set" if error["type"] == "missing" else error["msg"]
            lines.append(f"{name}: {reason}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
