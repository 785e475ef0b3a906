"""Messaging: SMS and WhatsApp through Twilio, email through Resend, and what became of
every message.

Theory of operation. A send (:mod:`.send`) is one use case from request to provider:
an idempotency key is claimed first (a retry returns the first attempt's result and
sends nothing), then the one compliance check runs (opt-out, DNC, account status,
hours), the wording is chosen by the effective-language cascade and rendered
(:mod:`.templates`), channel rules are applied (WhatsApp's 24-hour window, email only
from a verified domain), and the message is written with its interaction *before* the
provider is called, so a crash can lose a send but never send twice. The provider's
answer is then stored on the same rows.

Delivery reports (:mod:`.delivery`) move a message's status only forward
(:mod:`.status`); a hard failure marks the interaction failed and puts a
``message.failed`` event in the outbox (:mod:`.events`) for the strategy engine.
Replies (:mod:`.inbound`) are attached to the contact they come from, open the
WhatsApp window, and a STOP-style word opts the contact out on every channel.

Providers are reached only through their SDKs (:mod:`.providers`), with the
organization's own keys or parley's (:mod:`.accounts`), and their base URLs can point
at the local stand-ins.
"""
