"""Delivery reports: in any order, repeated, forged or stale, and hard failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from gateway.standins.resend_api import Mailbox
from gateway.standins.twilio_messaging import Recipient
from gateway.standins.twilio_signing import sign
from tests.backoffice.messaging.harness import messaging_world, svix_secret
from tests.integration.harness import AUTH_TOKEN


async def test_statuses_arriving_out_of_order_never_move_a_message_back(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        w.twilio.messaging.default_recipient = Recipient(delay_s=60)  # we report by hand
        _, account = await w.debtor(whatsapp="+34600333444")
        await w.twilio.messaging.inject_inbound(
            "whatsapp:+34600333444", "whatsapp:+15550000002", "hola", w.inbound_url
        )
        sent = await w.send(account, channel="whatsapp", text="Le enviamos el detalle.")
        message_id = sent.json()["message_id"]
        sid = (await w.twilio.messaging.wait_for_message()).sid
        seen = []
        for status in ("delivered", "sent", "read", "delivered", "sending"):
            await w.twilio.messaging.send_status(sid, status)
            seen.append((await w.message_row(message_id)).status)
        assert seen == ["delivered", "delivered", "read", "read", "read"]
        # every report is kept, each once; a repeat of the same report is a no-op
        await w.twilio.messaging.send_status(sid, "read")
        async with w.db.read() as conn:
            from sqlalchemy import select

            from backoffice.store.tables import message_events

            kinds = [
                r.kind
                for r in await conn.execute(
                    select(message_events).where(message_events.c.message_id == message_id)
                )
            ]
        assert sorted(kinds) == sorted(
            ["twilio.delivered", "twilio.sent", "twilio.read", "twilio.sending"]
        )


async def test_a_hard_failure_is_final_marks_the_interaction_and_tells_the_strategy(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        w.twilio.messaging.recipients["+34600111222"] = Recipient(
            outcome="undelivered", error_code="30005"
        )
        _, account = await w.debtor()
        sent = await w.send(account, channel="sms", template="payment_reminder")
        message = await w.twilio.messaging.wait_for_message()
        await w.twilio.messaging.idle()
        await w.twilio.messaging.send_status(message.sid, "delivered")  # late and wrong
        row = await w.message_row(sent.json()["message_id"])
        assert (row.status, row.error_code) == ("undelivered", "30005")
        listed = await w.http.get(f"/api/accounts/{account}/messages", headers=w.headers())
        assert listed.json()["items"][0]["status"] == "undelivered"
        from sqlalchemy import select

        from backoffice.store.tables import interactions

        async with w.db.read() as conn:
            shown = (
                await conn.execute(
                    select(interactions.c.status).where(interactions.c.id == row.interaction_id)
                )
            ).scalar()
        assert shown == "failed"
        (event,) = [e for e in await w.events() if e.kind == "message.failed"]
        assert event.account_id == account and event.consumed_at is None
        assert event.payload["status"] == "undelivered"
        assert event.payload["error_code"] == "30005"
        assert event.payload["address"] == "+34600111222"


async def test_a_stop_the_carrier_reports_opts_the_debtor_out_of_everything(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        contact, account = await w.debtor(email="ana@example.org")
        w.twilio.messaging.unsubscribed.add("+34600111222")  # replied STOP at the carrier
        sent = await w.send(account, channel="sms", template="payment_reminder")
        row = await w.message_row(sent.json()["message_id"])
        assert (row.status, row.error_code) == ("failed", "21610")
        shown = (await w.http.get(f"/api/contacts/{contact}", headers=w.headers())).json()
        assert shown["opted_out"] is True
        assert "STOP" in shown["opted_out_reason"]
        emails_before = dict(w.resend.emails)
        refused = await w.send(account, channel="email", template="payment_reminder")
        assert (refused.status_code, refused.json()["reason"]) == (409, "opted_out")
        assert w.resend.emails == emails_before


async def test_a_carrier_stop_reported_late_opts_out_too(tmp_path: Path, database_url: str) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        w.twilio.messaging.recipients["+34600111222"] = Recipient(
            outcome="undelivered", error_code="21610"
        )
        contact, account = await w.debtor()
        await w.send(account, channel="sms", template="payment_reminder")
        await w.twilio.messaging.wait_for_message()
        await w.twilio.messaging.idle()
        shown = (await w.http.get(f"/api/contacts/{contact}", headers=w.headers())).json()
        assert shown["opted_out"] is True
        # another failure code is a failure, not the debtor's word
        other_contact, other = await w.debtor(phone="+34600999888")
        w.twilio.messaging.recipients["+34600999888"] = Recipient(
            outcome="undelivered", error_code="30005"
        )
        await w.send(other, channel="sms", template="payment_reminder")
        await w.twilio.messaging.wait_for_message(1)
        await w.twilio.messaging.idle()
        other_shown = (await w.http.get(f"/api/contacts/{other_contact}", headers=w.headers()))
        assert other_shown.json()["opted_out"] is False


async def test_an_email_bounce_is_a_hard_failure_and_opens_are_reads(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        w.resend.mailboxes["gone@example.org"] = Mailbox(outcome="bounced")
        w.resend.mailboxes["ana@example.org"] = Mailbox(opens=True)
        _, gone = await w.debtor(email="gone@example.org", phone="+34600000001")
        _, ana = await w.debtor(email="ana@example.org", phone="+34600000002")
        bounced = await w.send(gone, channel="email", template="payment_reminder")
        opened = await w.send(ana, channel="email", template="payment_reminder")
        await w.resend.wait_for_email(1)
        await w.resend.idle()
        row = await w.message_row(bounced.json()["message_id"])
        assert (row.status, row.error_code) == ("bounced", "bounce:Permanent")
        assert (await w.message_row(opened.json()["message_id"])).status == "read"
        failed = [e for e in await w.events() if e.kind == "message.failed"]
        assert [e.account_id for e in failed] == [gone]


async def test_twilio_reports_with_a_bad_signature_are_refused_and_change_nothing(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        w.twilio.messaging.default_recipient = Recipient(delay_s=60)
        contact, account = await w.debtor()
        sent = await w.send(account, channel="sms", template="payment_reminder")
        message = await w.twilio.messaging.wait_for_message()
        status_url = message.status_callback or ""
        form = {"MessageSid": message.sid, "MessageStatus": "failed", "ErrorCode": "30003"}
        local = status_url.replace(w.gw.settings.public_url, w.gw.url)
        unsigned = await w.http.post(local, data=form)
        forged = await w.http.post(
            local, data=form, headers={"X-Twilio-Signature": sign("wrong-token", status_url, form)}
        )
        tampered = await w.http.post(
            local,
            data={**form, "MessageStatus": "delivered"},
            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, status_url, form)},
        )
        assert [r.status_code for r in (unsigned, forged, tampered)] == [403, 403, 403]
        assert (await w.message_row(sent.json()["message_id"])).status == "queued"
        inbound = {"MessageSid": "SM" + "1" * 32, "From": "+34600111222", "To": "+15550000001",
                   "Body": "STOP"}  # fmt: skip
        forged_stop = await w.http.post(
            "/twilio/messages/inbound",
            data=inbound,
            headers={"X-Twilio-Signature": sign("wrong-token", w.inbound_url, inbound)},
        )
        assert forged_stop.status_code == 403
        opt = await w.http.get(f"/api/contacts/{contact}", headers=w.headers())
        assert opt.json()["opted_out"] is False
        assert await w.events() == []


async def test_resend_events_unsigned_forged_stale_or_replayed_change_nothing(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        w.resend.default_mailbox = Mailbox(delay_s=60)
        _, account = await w.debtor(email="ana@example.org")
        sent = await w.send(account, channel="email", template="payment_reminder")
        email = await w.resend.wait_for_email()
        message_id = sent.json()["message_id"]
        url = f"{w.gw.url}/resend/events"
        good = [(url, w.managed_secret)]

        w.resend.webhooks["parley"] = [(url, svix_secret())]  # a secret parley does not have
        (forged,) = await w.resend.send_event(
            email.id, "email.bounced", bounce={"type": "Permanent"}
        )
        w.resend.webhooks["parley"] = good
        stale_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        (stale,) = await w.resend.send_event(email.id, "email.bounced", timestamp=stale_at)
        async with httpx.AsyncClient() as http:
            unsigned = await http.post(url, json={"type": "email.bounced", "data": {}})
        assert [forged.status, stale.status, unsigned.status_code] == [401, 401, 401]
        assert (await w.message_row(message_id)).status == "queued"

        (delivered,) = await w.resend.send_event(email.id, "email.delivered", svix_id="msg_1")
        (replayed,) = await w.resend.send_event(email.id, "email.bounced", svix_id="msg_1")
        assert (delivered.status, replayed.status) == (200, 200)
        assert (await w.message_row(message_id)).status == "delivered"
        assert [e for e in await w.events() if e.kind == "message.failed"] == []
