"""Sending on each channel, through the real SDKs, to the stand-ins.

Each test is what an operator (or the strategy) does: send, and see what reached
the provider, what parley recorded, and what the delivery reports changed.
"""

from __future__ import annotations

from pathlib import Path

from tests.backoffice.messaging.harness import SMS_FROM, WHATSAPP_FROM, messaging_world


async def test_an_sms_is_sent_and_its_delivery_recorded_in_order(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor(account={"total_amount": "250.00"})
        sent = await w.send(account, channel="sms", template="payment_reminder")
        assert sent.status_code == 201, sent.text
        result = sent.json()
        assert result["outcome"] == "sent" and result["language"] == "es-ES"
        message = await w.twilio.messaging.wait_for_message()
        assert message.to == "+34600111222" and message.from_ == SMS_FROM
        assert "250,00" in message.body and "CTA-1001" in message.body
        assert message.body == result["content"]
        await w.twilio.messaging.wait_for_callbacks(message.sid, 2)
        await w.twilio.messaging.idle()
        assert [c.status for c in message.callbacks] == [204, 204]
        row = await w.message_row(result["message_id"])
        assert (row.provider_id, row.status) == (message.sid, "delivered")
        listed = await w.http.get(f"/api/accounts/{account}/messages", headers=w.headers())
        (item,) = listed.json()["items"]
        assert item["status"] == "delivered" and item["summary"] == (
            "payment reminder sent by SMS, delivered"
        )


async def test_whatsapp_outside_the_window_uses_the_approved_template_by_content_sid(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor(whatsapp="+34600333444")
        content = w.twilio.messaging.add_content(
            "payment_reminder_es", "Hola {{1}}, cuenta {{2}} con {{3}}: saldo {{4}}.", "es"
        )
        await w.set_messaging(
            "org-a", whatsapp_content_sids={"payment_reminder": {"es": content.sid}}
        )
        sent = await w.send(account, channel="whatsapp", template="payment_reminder")
        assert sent.status_code == 201, sent.text
        message = await w.twilio.messaging.wait_for_message()
        assert (
            message.to == "whatsapp:+34600333444" and message.from_ == f"whatsapp:{WHATSAPP_FROM}"
        )
        assert message.content_sid == content.sid and "Body" not in message.request
        assert message.content_variables == {
            "1": "Ana",
            "2": "CTA-1001",
            "3": "org-a",
            "4": "100,00\xa0€",
        }
        assert message.body == "Hola Ana, cuenta CTA-1001 con org-a: saldo 100,00\xa0€."
        await w.twilio.messaging.idle()
        assert (await w.message_row(sent.json()["message_id"])).status == "delivered"


async def test_free_form_whatsapp_is_refused_outside_the_window_and_sent_inside_it(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor(whatsapp="+34600333444")
        refused = await w.send(account, channel="whatsapp", text="¿Le viene bien el viernes?")
        assert refused.status_code == 409
        assert refused.json()["reason"] == "whatsapp_window_closed"
        assert "24 hours" in refused.json()["message"]
        no_template = await w.send(account, channel="whatsapp", template="payment_reminder")
        assert no_template.json()["reason"] == "no_whatsapp_template"
        assert w.twilio.messaging.messages == {}
        # the debtor writes: the window opens, and free-form text may go out
        reply = await w.twilio.messaging.inject_inbound(
            "whatsapp:+34600333444",
            f"whatsapp:{WHATSAPP_FROM}",
            "Hola, ¿cuánto debo?",
            w.inbound_url,
        )
        assert reply.status == 200 and "<Response/>" in reply.body
        sent = await w.send(account, channel="whatsapp", text="¿Le viene bien el viernes?")
        assert sent.status_code == 201, sent.text
        message = await w.twilio.messaging.wait_for_message()
        assert message.body == "¿Le viene bien el viernes?" and message.content_sid is None
        # inside the window a template goes as its text, no content SID needed
        templated = await w.send(account, channel="whatsapp", template="payment_reminder")
        assert templated.status_code == 201
        second = await w.twilio.messaging.wait_for_message(1)
        assert second.content_sid is None and second.body.startswith("Hola Ana")
        await w.twilio.messaging.idle()
        assert [c.params["MessageStatus"] for c in message.callbacks] == ["sent", "delivered"]


async def test_email_goes_only_from_a_verified_domain(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor(email="ana@example.org", language="en")
        refused = await w.send(account, channel="email", template="payment_reminder")
        assert refused.status_code == 409
        assert refused.json()["reason"] == "no_verified_email_domain"
        w.resend.auto_dns = False
        created = await w.http.post(
            "/api/email/domains", json={"domain": "mail.cobros.test"}, headers=w.headers()
        )
        assert created.status_code == 201, created.text
        records = created.json()["records"]
        assert {(r["type"], r["name"]) for r in records} == {
            ("MX", "send.mail"),
            ("TXT", "send.mail"),
            ("TXT", "resend._domainkey.mail"),
        }
        domain_id = created.json()["id"]
        failed = await w.http.post(f"/api/email/domains/{domain_id}/verify", headers=w.headers())
        assert failed.json()["status"] == "failed" and not failed.json()["verified"]
        assert (
            await w.send(account, channel="email", template="payment_reminder")
        ).status_code == 409
        w.resend.dns_ready.add("mail.cobros.test")
        verified = await w.http.post(f"/api/email/domains/{domain_id}/verify", headers=w.headers())
        assert verified.json()["verified"], verified.text
        sent = await w.send(account, channel="email", template="payment_reminder")
        assert sent.status_code == 201, sent.text
        email = await w.resend.wait_for_email()
        assert email.params["from"] == "org-a <avisos@mail.cobros.test>"
        assert email.params["to"] == ["ana@example.org"]
        assert email.params["subject"] == "Reminder: account CTA-1001"
        assert "balance due of 100,00\xa0€" in email.params["text"]  # en in Spain (CLDR en_ES)
        assert "<p>" in email.params["html"]
        assert email.headers["Idempotency-Key"]
        await w.resend.idle()
        assert [e.status for e in email.events] == [200, 200]
        assert (await w.message_row(sent.json()["message_id"])).status == "delivered"


async def test_a_repeated_idempotency_key_sends_once(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor()
        first = await w.send(
            account, channel="sms", template="payment_reminder", idempotency_key="k1"
        )
        again = await w.send(account, channel="sms", text="something else", idempotency_key="k1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["outcome"] == "duplicate"
        assert again.json()["message_id"] == first.json()["message_id"]
        assert again.json()["content"] == first.json()["content"]
        await w.twilio.messaging.idle()
        assert len(w.twilio.messaging.messages) == 1
        # another organization may use the same key for its own message
        _, other = await w.debtor("org-b", phone="+34600999888")
        theirs = await w.send(
            other, "org-b", channel="sms", template="payment_reminder", idempotency_key="k1"
        )
        assert theirs.status_code == 201


async def test_an_opted_out_contact_gets_nothing(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        contact, account = await w.debtor(email="ana@example.org", whatsapp="+34600333444")
        opted = await w.http.post(
            f"/api/contacts/{contact}/opt-out",
            json={"reason": "asked by phone"},
            headers=w.headers(),
        )
        assert opted.status_code == 200, opted.text
        for channel in ("sms", "whatsapp", "email"):
            refused = await w.send(account, channel=channel, template="payment_reminder")
            assert refused.status_code == 409, refused.text
            assert refused.json()["reason"] == "opted_out"
        listed = await w.http.get(f"/api/accounts/{account}/messages", headers=w.headers())
        assert listed.json()["total"] == 0
        assert w.twilio.messaging.messages == {} and w.resend.emails == {}


async def test_outside_the_allowed_hours_nothing_is_sent(tmp_path: Path, database_url: str) -> None:
    import datetime as dt

    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor()
        w.gw.services.clock = lambda: dt.datetime(2026, 11, 18, 22, 30, tzinfo=dt.UTC)
        refused = await w.send(account, channel="sms", template="payment_reminder")
        assert refused.status_code == 409
        assert refused.json()["reason"] == "outside_hours"
        assert refused.json()["next_allowed_at"].startswith("2026-11-19T08:00")
        assert w.twilio.messaging.messages == {}


async def test_bad_requests_name_the_field(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor()
        both = await w.send(account, channel="sms", template="payment_reminder", text="hi")
        assert both.status_code == 422 and both.json()["errors"][0]["field"] == "template"
        channel = await w.send(account, channel="fax", text="hi")
        assert channel.status_code == 422 and channel.json()["errors"][0]["field"] == "channel"
        unknown = await w.send(account, channel="sms", template="no_such_template")
        assert unknown.status_code == 409 and unknown.json()["reason"] == "template_error"
        missing = await w.send(account, channel="sms", to="+34699000000", text="hi")
        assert missing.json()["reason"] == "not_contacts_address"
        assert w.twilio.messaging.messages == {}


async def test_an_address_is_read_as_a_person_writes_it(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        _, account = await w.debtor()
        sent = await w.send(
            account, channel="sms", template="payment_reminder", to="0034 600 11 12 22",
            variables={"balance": "0,00 €", "greeting": "unused"},
        )  # fmt: skip
        assert sent.status_code == 201, sent.text
        assert sent.json()["to"] == "+34600111222"
        assert "100,00" in sent.json()["content"]  # the account's balance, not the caller's
