"""Managed (parley's accounts) and bring-your-own-provider organizations, side by side:
every send, callback and event goes through the right account's keys."""

from __future__ import annotations

from pathlib import Path

from gateway.standins.twilio_messaging import Recipient
from gateway.standins.twilio_signing import sign
from tests.backoffice.messaging.harness import (
    BYOP_ACCOUNT_SID,
    BYOP_AUTH_TOKEN,
    BYOP_RESEND_KEY,
    BYOP_SMS_FROM,
    SMS_FROM,
    messaging_world,
    svix_secret,
)
from tests.integration.harness import ACCOUNT_SID, AUTH_TOKEN


async def test_each_organization_sends_with_its_own_keys(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        byop_secret = svix_secret()
        w.twilio.add_account(BYOP_ACCOUNT_SID, BYOP_AUTH_TOKEN)
        w.resend.webhooks["acme-own"] = [(f"{w.gw.url}/resend/events?org=org-b", byop_secret)]
        stored = await w.http.put(
            "/api/org/credentials",
            json={
                "mode": "byop",
                "providers": {
                    "twilio": {
                        "account_sid": BYOP_ACCOUNT_SID,
                        "auth_token": BYOP_AUTH_TOKEN,
                        "from_number": BYOP_SMS_FROM,
                    },
                    "resend": {"api_key": BYOP_RESEND_KEY, "webhook_secret": byop_secret},
                },
            },
            headers=w.headers("org-b"),
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["providers"]["resend"]["webhook_secret"] == "set"
        _, managed = await w.debtor("org-a", email="ana@example.org")
        _, own = await w.debtor("org-b", phone="+34600999888", email="bea@example.org")

        a = await w.send(managed, "org-a", channel="sms", template="payment_reminder")
        b = await w.send(own, "org-b", channel="sms", template="payment_reminder")
        assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
        sent = {m.to: m for m in w.twilio.messaging.messages.values()}
        assert (sent["+34600111222"].account_sid, sent["+34600111222"].from_) == (
            ACCOUNT_SID,
            SMS_FROM,
        )
        assert (sent["+34600999888"].account_sid, sent["+34600999888"].from_) == (
            BYOP_ACCOUNT_SID,
            BYOP_SMS_FROM,
        )
        await w.twilio.messaging.idle()
        for result in (a, b):
            assert (await w.message_row(result.json()["message_id"])).status == "delivered"
        assert (await w.message_row(b.json()["message_id"])).credential_mode == "byop"

        # a report about org B's message signed with parley's token is not org B's
        theirs = sent["+34600999888"]
        url = theirs.status_callback or ""
        form = {"MessageSid": theirs.sid, "MessageStatus": "failed", "ErrorCode": "30003"}
        forged = await w.http.post(
            url.replace(w.gw.settings.public_url, w.gw.url),
            data=form,
            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)},
        )
        assert forged.status_code == 403
        assert (await w.message_row(b.json()["message_id"])).status == "delivered"

        # email: org B's domain and mail live in org B's own Resend team
        await w.verified_domain("org-a", "mail.parley-managed.test")
        await w.verified_domain("org-b", "mail.acme-own.test")
        teams = {d.name: d.team for d in w.resend.domains.values()}
        assert teams == {"mail.parley-managed.test": "parley", "mail.acme-own.test": "acme-own"}
        ea = await w.send(managed, "org-a", channel="email", template="payment_reminder")
        eb = await w.send(own, "org-b", channel="email", template="payment_reminder")
        assert (ea.status_code, eb.status_code) == (201, 201), (ea.text, eb.text)
        await w.resend.wait_for_email(1)
        await w.resend.idle()
        by_to = {e.to[0]: e for e in w.resend.emails.values()}
        assert by_to["ana@example.org"].team == "parley"
        assert by_to["bea@example.org"].team == "acme-own"
        assert by_to["bea@example.org"].params["from"].endswith("@mail.acme-own.test>")
        for result in (ea, eb):
            assert (await w.message_row(result.json()["message_id"])).status == "delivered"


async def test_a_byop_organization_without_keys_for_a_provider_uses_parleys(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        w.twilio.messaging.default_recipient = Recipient()
        stored = await w.http.put(
            "/api/org/credentials",
            json={"mode": "byop", "providers": {"resend": {"api_key": BYOP_RESEND_KEY}}},
            headers=w.headers("org-b"),
        )
        assert stored.status_code == 200
        _, own = await w.debtor("org-b", phone="+34600999888")
        sent = await w.send(own, "org-b", channel="sms", template="payment_reminder")
        assert sent.status_code == 201
        message = await w.twilio.messaging.wait_for_message()
        assert message.account_sid == ACCOUNT_SID


async def test_keys_this_server_cannot_read_refuse_the_send_and_say_why(
    tmp_path: Path, database_url: str
) -> None:
    from sqlalchemy import update

    from backoffice.store.tables import organizations
    from backoffice.vault import Vault

    async with messaging_world(tmp_path, database_url) as w:
        sealed = Vault(b"another-server-secret-entirely").seal(
            {"twilio": {"account_sid": BYOP_ACCOUNT_SID, "auth_token": BYOP_AUTH_TOKEN}}
        )
        async with w.db.transaction() as conn:
            await conn.execute(
                update(organizations)
                .where(organizations.c.id == "org-b")
                .values(credential_mode="byop", provider_keys=sealed)
            )
        _, own = await w.debtor("org-b", phone="+34600999888")
        refused = await w.send(own, "org-b", channel="sms", template="payment_reminder")
        assert refused.status_code == 409
        assert refused.json()["reason"] == "credentials_unreadable"
        assert w.twilio.messaging.messages == {}
