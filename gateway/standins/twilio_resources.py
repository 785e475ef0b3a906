"""Twilio's REST shapes: SIDs, dates, the Call resource and the error body.

Why exact shapes: the gateway talks to the stand-in through the twilio SDK, which
builds ``CallInstance`` from these keys and ``TwilioRestException`` from the error
body (``code``, ``message``, ``more_info``, ``status``). Keys match what the 9.13
SDK reads, values follow the Call resource docs (dates in RFC 2822, ``duration`` a
string of seconds, ``price`` null until billed).
"""

from __future__ import annotations

import datetime as dt
import secrets
from email.utils import format_datetime
from typing import Any

from gateway.standins.twilio_records import CallRecord

API_VERSION = "2010-04-01"


class TwilioApiError(Exception):
    """An error the REST API answers in Twilio's JSON error shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: dt.datetime | None = None) -> str:
    """Twilio's date format, e.g. ``Tue, 21 Nov 2023 10:00:00 +0000``."""
    return format_datetime(moment or dt.datetime.now(dt.UTC))


def call_uri(account_sid: str, call_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Calls/{call_sid}.json"


def call_json(call: CallRecord) -> dict[str, Any]:
    """The Call resource as ``GET /Calls/{sid}.json`` returns it."""
    base = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}"
    duration = call.duration_s
    return {
        "sid": call.sid,
        "date_created": call.date_created,
        "date_updated": rfc2822(),
        "parent_call_sid": None,
        "account_sid": call.account_sid,
        "to": call.to,
        "to_formatted": call.to,
        "from": call.from_,
        "from_formatted": call.from_,
        "phone_number_sid": None,
        "status": call.status,
        "start_time": call.start_time,
        "end_time": call.end_time,
        "duration": None if duration is None else str(round(duration)),
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": f"{base}.json",
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
            "payments": f"{base}/Payments.json",
            "events": f"{base}/Events.json",
            "siprec": f"{base}/Siprec.json",
            "streams": f"{base}/Streams.json",
            "transcriptions": f"{base}/Transcriptions.json",
            "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": f"{base}/UserDefinedMessages.json",
        },
    }
