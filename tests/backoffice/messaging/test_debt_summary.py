"""The debt summary the agent sends mid-call: the account's breakdown, in the contact's
language, through the service the ``send_debt_summary`` tool wraps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from backoffice.messaging.debt_summary import send_debt_summary
from backoffice.messaging.recent import recent_messages
from tests.backoffice.messaging.harness import WHATSAPP_FROM, World, messaging_world
from tests.integration.harness import BUSINESS_HOURS

ITEMS = [("capital", "1000.00"), ("interest", "50.00"), ("fees", "25.00"), ("payment", "200.00")]


async def _summary(w: World, account: str, channel: str, key: str) -> object:
    return await send_debt_summary(
        w.db,
        w.messaging,
        org_id="org-a",
        account_id=account,
        channel=channel,
        idempotency_key=key,
        actor="agent:CA0001",
        at=w.messaging.clock(),
    )


async def test_the_email_summary_lists_the_debt_items_in_the_contacts_language(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        _, account = await w.debtor(
            email="ana@example.mx",
            language="es-MX",
            items=ITEMS,
            account={"due_date": dt.date(2026, 12, 15)},
        )
        result = await _summary(w, account, "email", "tool-call-1")
        assert result.outcome == "sent", result.message  # type: ignore[attr-defined]
        email = await w.resend.wait_for_email()
        text = email.params["text"]
        assert email.params["subject"] == "Resumen de tu cuenta CTA-1001"
        assert text.startswith("Hola Ana:")
        for line in (
            # CLDR's es_MX writes a foreign currency by its code: EUR1,000.00
            "Capital: EUR1,000.00",
            "Intereses: EUR50.00",
            "Comisiones: EUR25.00",
            "Pagos realizados: -EUR200.00",
            "Saldo por pagar: EUR875.00",
            "Fecha límite de pago: 15 de diciembre de 2026",
        ):
            assert line in text, (line, text)
        # the agent's retry of the same tool call sends nothing more
        again = await _summary(w, account, "email", "tool-call-1")
        assert again.outcome == "duplicate"  # type: ignore[attr-defined]
        assert len(w.resend.emails) == 1


async def test_the_whatsapp_summary_in_english_and_portuguese(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, english = await w.debtor(whatsapp="+34600000011", language="en", items=ITEMS)
        _, brazilian = await w.debtor(
            whatsapp="+34600000022", phone="+34600000022", language="pt-BR", items=ITEMS
        )
        for number in ("+34600000011", "+34600000022"):
            await w.twilio.messaging.inject_inbound(
                f"whatsapp:{number}", f"whatsapp:{WHATSAPP_FROM}", "hi", w.inbound_url
            )
        en = await _summary(w, english, "whatsapp", "k-en")
        pt = await _summary(w, brazilian, "whatsapp", "k-pt")
        assert (en.outcome, pt.outcome) == ("sent", "sent")  # type: ignore[attr-defined]
        bodies = {m.to: m.body for m in w.twilio.messaging.messages.values()}
        assert bodies["whatsapp:+34600000011"] == (
            "Hello Ana, here is the summary of your account CTA-1001 with org-a: balance due "
            "875,00\xa0€ (Principal: 1.000,00\xa0€; Interest: 50,00\xa0€; Fees: 25,00\xa0€; "
            "Payments made: -200,00\xa0€), due date —."
        )
        assert bodies["whatsapp:+34600000022"].startswith(
            "Olá Ana, segue o resumo da sua conta CTA-1001 com a org-a: saldo devedor "
        )
        assert "Juros: €\xa050,00" in bodies["whatsapp:+34600000022"]


async def test_refusals_are_said_and_nothing_is_sent(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        contact, account = await w.debtor(items=ITEMS)
        by_sms = await _summary(w, account, "sms", "k1")
        assert by_sms.reason == "channel_not_allowed"  # type: ignore[attr-defined]
        no_mail = await _summary(w, account, "email", "k2")
        assert no_mail.reason == "no_address"  # type: ignore[attr-defined]
        assert "no email address" in no_mail.message  # type: ignore[attr-defined]
        await w.http.post(
            f"/api/contacts/{contact}/opt-out", json={"reason": "asked"}, headers=w.headers()
        )
        opted = await _summary(w, account, "whatsapp", "k3")
        assert (opted.outcome, opted.reason) == ("refused", "opted_out")  # type: ignore[attr-defined]
        assert w.twilio.messaging.messages == {} and w.resend.emails == {}


async def test_recent_messages_tell_the_agent_what_was_sent_and_received(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        contact, account = await w.debtor(whatsapp="+34600333444", items=ITEMS)
        await w.twilio.messaging.inject_inbound(
            "whatsapp:+34600333444", f"whatsapp:{WHATSAPP_FROM}", "¿Cuánto debo?", w.inbound_url
        )
        await _summary(w, account, "whatsapp", "k1")
        await w.twilio.messaging.idle()
        async with w.db.read() as conn:
            recent = await recent_messages(
                conn, org_id="org-a", account_id=account, contact_id=contact,
                since=BUSINESS_HOURS - dt.timedelta(hours=1),
            )  # fmt: skip
            other_org = await recent_messages(
                conn, org_id="org-b", account_id=account, since=BUSINESS_HOURS - dt.timedelta(1)
            )
            later = await recent_messages(
                conn, org_id="org-a", contact_id=contact, since=BUSINESS_HOURS + dt.timedelta(1)
            )
        # both happened at the same business instant: compare as a set
        assert {(m.channel, m.direction, m.summary) for m in recent} == {
            ("whatsapp", "outbound", "debt summary sent by WhatsApp, delivered"),
            ("whatsapp", "inbound", "reply received by WhatsApp"),
        }
        assert len(recent) == 2
        assert all("875" not in m.summary for m in recent)
        assert {m.template for m in recent} == {"debt_summary", None}
        assert other_org == [] and later == []
