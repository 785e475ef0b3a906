"""Replies: attached to the right contact, STOP-style words opt the contact out."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.messaging.inbound import opt_out_word
from tests.backoffice.messaging.harness import WHATSAPP_FROM, messaging_world


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "stop"),
        ("  Stop. ", "stop"),
        ("BAJA", "baja"),
        ("baja por favor", "baja"),
        ("Darme de baja", "baja"),
        ("PARAR", "parar"),
        ("Cancelar", "cancelar"),
        ("unsubscribe please", "unsubscribe"),
        ("SAIR", "sair"),
        ("Pare", "pare"),
    ],
)
def test_opt_out_words_in_every_language(text: str, word: str) -> None:
    assert opt_out_word(text) == word


@pytest.mark.parametrize(
    "text",
    ["Para mañana pago", "No puedo pagar, ¿me pueden llamar?", "stop calling me at work ok", "",
     "stop baja"],
)  # fmt: skip
def test_ordinary_replies_are_not_opt_outs(text: str) -> None:
    assert opt_out_word(text) is None


async def test_a_stop_reply_opts_the_contact_out_of_every_channel(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        contact, account = await w.debtor(email="ana@example.org")
        sent = await w.send(account, channel="sms", template="payment_reminder")
        assert sent.status_code == 201
        reply = await w.twilio.messaging.inject_inbound(
            "+34600111222", "+15550000001", "BAJA", w.inbound_url
        )
        assert reply.status == 200, reply.body
        detail = await w.http.get(f"/api/contacts/{contact}", headers=w.headers())
        assert detail.json()["opted_out"] is True
        assert detail.json()["opted_out_reason"] == "replied BAJA by sms"
        again = await w.send(account, channel="sms", template="payment_reminder")
        assert again.status_code == 409 and again.json()["reason"] == "opted_out"
        listed = await w.http.get(f"/api/accounts/{account}/messages", headers=w.headers())
        inbound = [m for m in listed.json()["items"] if m["direction"] == "inbound"]
        assert [(m["content"], m["sender"], m["status"]) for m in inbound] == [
            ("BAJA", "+34600111222", "received")
        ]
        (replied,) = [e for e in await w.events() if e.kind == "message.replied"]
        assert replied.payload["opted_out"] is True and replied.contact_id == contact


async def test_a_reply_goes_to_the_contact_of_the_receiving_organization(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.set_messaging("org-b", whatsapp_from="+15550000099")
        a_contact, a_account = await w.debtor("org-a", whatsapp="+34600333444")
        b_contact, _ = await w.debtor("org-b", whatsapp="+34600333444")
        await w.twilio.messaging.inject_inbound(
            "whatsapp:+34600333444", "whatsapp:+15550000099", "Hola", w.inbound_url
        )
        # org B's number received it: org A's window stays closed, org B's is open
        refused = await w.send(a_account, channel="whatsapp", text="¿Hablamos?")
        assert refused.json()["reason"] == "whatsapp_window_closed"
        replies = [e for e in await w.events("org-b") if e.kind == "message.replied"]
        assert [e.contact_id for e in replies] == [b_contact]
        assert [e for e in await w.events("org-a") if e.kind == "message.replied"] == []
        await w.twilio.messaging.inject_inbound(
            "whatsapp:+34600333444", f"whatsapp:{WHATSAPP_FROM}", "Hola", w.inbound_url
        )
        (a_reply,) = [e for e in await w.events("org-a") if e.kind == "message.replied"]
        assert a_reply.contact_id == a_contact
        assert (await w.send(a_account, channel="whatsapp", text="¿Hablamos?")).status_code == 201


async def test_an_email_reply_with_baja_opts_out_and_is_kept(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.verified_domain()
        contact, account = await w.debtor(email="ana@example.org")
        await w.send(account, channel="email", template="payment_reminder")
        (post,) = await w.resend.deliver_inbound(
            "parley", "Ana <Ana@Example.org>", "avisos@mail.cobros.test", "BAJA"
        )
        assert post.status == 200
        detail = await w.http.get(f"/api/contacts/{contact}", headers=w.headers())
        assert detail.json()["opted_out"] is True
