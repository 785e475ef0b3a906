"""Shipped defaults that an organization can override: greetings and voices per language.

Kept as data so that adding a language is a table edit, not a code change.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "es"

# The agent's opening line when it speaks first. {{debtor_first_name}} and
# {{org_name}} are ElevenLabs dynamic variables filled per call.
GREETINGS: dict[str, str] = {
    "en": "Hello, this is {{org_name}}. Am I speaking with {{debtor_first_name}}?",
    "es": "Hola, le llamamos de {{org_name}}. ¿Hablo con {{debtor_first_name}}?",
    "pt": "Olá, aqui é da {{org_name}}. Estou falando com {{debtor_first_name}}?",
}

# The agent's opening line when a caller phones in: the caller may not be the debtor
# (a shared phone), so nobody is named before identity is verified.
INBOUND_GREETINGS: dict[str, str] = {
    "en": "Hello, this is {{org_name}}. How can I help you?",
    "es": "Hola, le atiende {{org_name}}. ¿En qué puedo ayudarle?",
    "pt": "Olá, aqui é da {{org_name}}. Como posso ajudar?",
}

# Said to a caller when the colleague they were being transferred to did not answer.
TRANSFER_UNANSWERED: dict[str, str] = {
    "en": "Sorry, no colleague is available right now. We will call you back. Goodbye.",
    "es": "Lo siento, ahora mismo no hay ningún compañero disponible. Le llamaremos. Adiós.",
    "pt": "Desculpe, nenhum colega está disponível agora. Vamos ligar de volta. Tchau.",
}

# ElevenLabs premade voices, per base language; None lets the agent's own voice speak.
VOICES: dict[str, str | None] = {
    "en": None,
    "es": None,
    "pt": None,
}


def base_language(language: str) -> str:
    """``es-MX`` -> ``es``; unknown or empty -> the default language."""
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in GREETINGS else DEFAULT_LANGUAGE


def greeting_for(language: str, *, inbound: bool = False) -> str:
    table = INBOUND_GREETINGS if inbound else GREETINGS
    return table[base_language(language)]


def transfer_unanswered_for(language: str) -> str:
    return TRANSFER_UNANSWERED[base_language(language)]
