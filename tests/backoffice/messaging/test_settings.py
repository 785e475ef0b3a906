"""An organization's messaging settings: checked when stored, used when sending."""

from __future__ import annotations

from pathlib import Path

from tests.backoffice.messaging.harness import messaging_world


async def test_own_wording_is_checked_when_stored_and_used_when_sending(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        bad = {
            "templates": {"payment_reminder": {"sms": {"es": {"body": "Hola {{apodo}}"}}}},
        }
        refused = await w.http.put("/api/org/messaging", json=bad, headers=w.headers())
        assert refused.status_code == 422
        assert "unknown variable(s) apodo" in refused.json()["errors"][0]["reason"]
        no_subject = {"templates": {"payment_reminder": {"email": {"es": {"text": "x"}}}}}
        refused = await w.http.put("/api/org/messaging", json=no_subject, headers=w.headers())
        assert "needs a subject" in refused.json()["errors"][0]["reason"]
        bad_sid = {"whatsapp_content_sids": {"debt_summary": {"es": "HX123"}}}
        refused = await w.http.put("/api/org/messaging", json=bad_sid, headers=w.headers())
        assert refused.json()["errors"][0]["field"] == "whatsapp_content_sids"
        await w.set_messaging(
            "org-a",
            sms_from="+15550000077",
            templates={
                "payment_reminder": {"sms": {"es_es": {"body": "{{first_name}}: {{balance}}"}}}
            },
        )
        shown = await w.http.get("/api/org/messaging", headers=w.headers())
        assert shown.json()["templates"]["payment_reminder"]["sms"] == {
            "es-ES": {"body": "{{first_name}}: {{balance}}"}
        }
        _, account = await w.debtor()
        sent = await w.send(account, channel="sms", template="payment_reminder")
        assert sent.json()["content"] == "Ana: 100,00\xa0€"
        message = await w.twilio.messaging.wait_for_message()
        assert message.from_ == "+15550000077"


async def test_a_sender_number_belongs_to_one_organization(
    tmp_path: Path, database_url: str
) -> None:
    async with messaging_world(tmp_path, database_url) as w:
        await w.set_messaging("org-a", whatsapp_from="+15550000077")
        taken = await w.http.put(
            "/api/org/messaging", json={"sms_from": "+15550000077"}, headers=w.headers("org-b")
        )
        assert taken.status_code == 409
        assert "another organization's sender" in taken.json()["error"]
