"""Choosing a message's wording for a channel and language, and filling it in safely.

Wording is looked up by template, channel and language tag: the exact tag first
(``es-MX``), then its bare language (``es``). The organization's own texts
(``settings.messaging.templates``) win over the shipped ones (``config``): its
``es`` text is used for an ``es-MX`` reader before the shipped ``es-MX`` one.
The tag comes from the effective-language cascade (``backoffice.language``),
so a contact's language, the organization's locale and the country default all
choose the wording the same way.

Rendering replaces ``{{name}}`` with the variable's text and does nothing else: no
expressions, attributes, filters or format specs, and a value is never rendered
again (a debtor's name containing ``{{x}}`` stays as it is). A variable the text uses
but the caller did not give is an error that names it; nothing half-filled is sent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.message_templates import shipped

CHANNELS = ("sms", "whatsapp", "email")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateError(Exception):
    """No wording for this template/channel/language, or a variable is missing.

    Attributes:
        field: what is at fault (``template``, ``variables.<name>``, ``language``).
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Wording:
    """One text of a template: for a channel in a language."""

    template: str
    channel: str
    language: str
    body: str
    subject: str | None = None
    content_variables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    """A filled-in text; ``content_variables`` maps ``"1"``, ``"2"``... to values for a
    WhatsApp template (the order the approved template expects)."""

    wording: Wording
    body: str
    subject: str | None
    content_variables: dict[str, str]

    def html(self) -> str:
        """The body as minimal HTML (email): escaped, paragraphs and line breaks kept."""
        paragraphs = [p for p in self.body.split("\n\n") if p.strip()]
        return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def template_names(overrides: Mapping[str, Any] | None = None) -> list[str]:
    names = set(shipped()["templates"]) | set((overrides or {}).keys())
    return sorted(names)


def labels(language: str) -> dict[str, str]:
    """Words for the balance breakdown (capital, interest, ...) in ``language``."""
    table: dict[str, dict[str, str]] = shipped()["labels"]
    for tag in _tags(language):
        if tag in table:
            return table[tag]
    return table["es"]


def choose(
    template: str,
    channel: str,
    language: str,
    overrides: Mapping[str, Any] | None = None,
) -> Wording:
    """The wording of ``template`` for ``channel`` in ``language`` (``es-MX`` -> ``es``).

    Raises:
        TemplateError: unknown template, or no text for that channel and language.
    """
    sources = [(overrides or {}).get(template), shipped()["templates"].get(template)]
    if not any(sources):
        raise TemplateError("template", f"unknown template {template!r}")
    for source in sources:
        for tag in _tags(language):
            text = ((source or {}).get(channel) or {}).get(tag)
            if text:
                return _wording(template, channel, tag, text)
    raise TemplateError("template", f"{template!r} has no {channel} text in {language!r}")


def render(wording: Wording, variables: Mapping[str, str]) -> Rendered:
    """Fill in ``wording``.

    Raises:
        TemplateError: a variable the text (or its WhatsApp content variables) needs
            is missing, named in ``field`` as ``variables.<name>``.
    """
    needed = set(_VARIABLE.findall(wording.body)) | set(wording.content_variables)
    if wording.subject:
        needed |= set(_VARIABLE.findall(wording.subject))
    missing = sorted(n for n in needed if n not in variables)
    if missing:
        raise TemplateError(
            f"variables.{missing[0]}",
            f"the {wording.template} {wording.channel} text needs {', '.join(missing)}",
        )

    def fill(text: str) -> str:
        return _VARIABLE.sub(lambda m: str(variables[m.group(1)]), text)

    return Rendered(
        wording,
        fill(wording.body),
        fill(wording.subject) if wording.subject else None,
        {str(i): str(variables[n]) for i, n in enumerate(wording.content_variables, start=1)},
    )


def _tags(language: str) -> list[str]:
    base = language.split("-")[0]
    return [language, base] if base != language else [language]


def _wording(template: str, channel: str, tag: str, text: Mapping[str, Any]) -> Wording:
    body = text.get("text") if channel == "email" else text.get("body")
    if not isinstance(body, str) or not body:
        raise TemplateError("template", f"{template!r} {channel} text in {tag!r} is empty")
    subject = text.get("subject")
    if channel == "email" and not subject:
        raise TemplateError("template", f"{template!r} email text in {tag!r} has no subject")
    return Wording(
        template=template,
        channel=channel,
        language=tag,
        body=body,
        subject=subject,
        content_variables=tuple(text.get("content_variables", ())),
    )
