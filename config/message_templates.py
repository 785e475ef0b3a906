"""The shipped wording of parley's messages (``message_templates.json`` beside this file).

Kept as data so that adding a language or a template is an edit of one JSON file; an
organization may override any text in its settings (``messaging.templates``, same
shape as ``templates`` here).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson


@cache
def shipped() -> dict[str, Any]:
    """The parsed file (read once per process; callers must not mutate it)."""
    data: dict[str, Any] = orjson.loads(
        resources.files("config").joinpath("message_templates.json").read_bytes()
    )
    return data
