"""Wording per channel and language, rendered safely; status ordering."""

from __future__ import annotations

import pytest

from backoffice.messaging.status import advances
from backoffice.messaging.templates import TemplateError, choose, render
from config.message_templates import shipped

LANGUAGES = ("es", "es-MX", "en", "pt", "pt-BR")


@pytest.mark.parametrize("template", sorted(shipped()["templates"]))
@pytest.mark.parametrize("channel", ["sms", "whatsapp", "email"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_shipped_text_renders_with_the_account_variables(
    template: str, channel: str, language: str
) -> None:
    variables = {
        name: f"<{name}>"
        for name in ("first_name", "name", "org_name", "reference", "balance", "due_date",
                     "breakdown", "breakdown_inline")
    }  # fmt: skip
    wording = choose(template, channel, language)
    assert wording.language == language
    rendered = render(wording, variables)
    assert "{{" not in rendered.body and "<balance>" in rendered.body
    if channel == "email":
        assert rendered.subject and "{{" not in rendered.subject
    if channel == "whatsapp":
        assert set(rendered.content_variables) == {
            str(i) for i in range(1, len(wording.content_variables) + 1)
        }


def test_a_regional_variant_falls_back_to_its_language() -> None:
    assert choose("debt_summary", "sms", "es-AR").language == "es"
    assert choose("debt_summary", "sms", "es-MX").language == "es-MX"
    assert choose("debt_summary", "sms", "en-GB").language == "en"


def test_an_organizations_text_wins_over_the_shipped_one() -> None:
    overrides = {"payment_reminder": {"sms": {"es": {"body": "Hola {{first_name}}, {{balance}}"}}}}
    wording = choose("payment_reminder", "sms", "es-MX", overrides)
    assert wording.body == "Hola {{first_name}}, {{balance}}"
    assert choose("payment_reminder", "sms", "en", overrides).body.startswith("{{org_name}}")


def test_a_missing_variable_is_named_and_nothing_is_rendered() -> None:
    wording = choose("payment_reminder", "sms", "en")
    with pytest.raises(TemplateError) as raised:
        render(wording, {"first_name": "Ann"})
    assert raised.value.field == "variables.balance"
    assert "org_name" in raised.value.reason


def test_values_are_text_never_code_nor_templates() -> None:
    overrides = {"t": {"sms": {"en": {"body": "{{a}} {{ b }} {a} {{a.__class__}} ${a}"}}}}
    wording = choose("t", "sms", "en", overrides)
    rendered = render(wording, {"a": "{{b}}", "b": "{__import__('os')}"})
    assert rendered.body == "{{b}} {__import__('os')} {a} {{a.__class__}} ${a}"


def test_unknown_template_or_language_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="unknown template 'nope'"):
        choose("nope", "sms", "es")
    overrides = {"t": {"sms": {"en": {"body": "x"}}}}
    with pytest.raises(TemplateError, match="no sms text in 'pt'"):
        choose("t", "sms", "pt", overrides | {"t": {"sms": {"en": {"body": "x"}}}})


def test_email_html_escapes_the_text() -> None:
    overrides = {"t": {"email": {"en": {"subject": "s", "text": "{{a}}\n\nline"}}}}
    rendered = render(choose("t", "email", "en", overrides), {"a": "<script>x</script>"})
    assert rendered.html() == "<p>&lt;script&gt;x&lt;/script&gt;</p><p>line</p>"


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        ("pending", "queued", True),
        ("queued", "sent", True),
        ("delivered", "sent", False),
        ("delivered", "read", True),
        ("read", "delivered", False),
        ("sent", "failed", True),
        ("delivered", "bounced", True),
        ("failed", "delivered", False),
        ("undelivered", "read", False),
        ("sent", "no-such-status", False),
    ],
)
def test_statuses_only_move_forward_and_failures_are_final(
    current: str, new: str, moves: bool
) -> None:
    assert advances(current, new) is moves
