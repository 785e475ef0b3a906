"""An organization's call limits, kept in ``organizations.settings["limits"]``.

How many AI calls it may have in progress at once and how many it may start per
second, across every gateway process. Unset means the deployment's default
(``PARLEY_ORG_MAX_CONCURRENT_CALLS``, ``PARLEY_ORG_CALLS_PER_SECOND``), and unset there
means no limit. Validated when an admin changes them, so a bad value is refused with
its field named (``settings.limits.calls_per_second``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CallLimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent_calls: int | None = Field(
        default=None, ge=1, le=100_000, description="Calls in progress at once."
    )
    calls_per_second: float | None = Field(
        default=None, gt=0, le=10_000, description="Calls started per second (0.5: one every 2 s)."
    )


def check_limits(value: Any) -> dict[str, Any]:
    """The limits as stored (unset fields left out).

    Raises:
        pydantic.ValidationError: a field is malformed or unknown.
    """
    return CallLimitsConfig.model_validate(value).model_dump(exclude_none=True)
