"""``parley demo``: one whole simulated collections call through the real gateway.

Everything runs on loopback in this process, with the embedded defaults: the
ElevenLabs stand-in (a scripted agent behind signed URLs), the Twilio stand-in (its
REST API, the phone network and a caller speaking with espeak-ng) and the gateway
itself under uvicorn. The call is placed the way an operator would, with
``POST /api/calls``, and the live feed a supervisor sees on ``WS /live`` is printed
as it happens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from bin.server import InProcessGateway, free_port
from config.logging import configure_logging
from config.settings import Settings, load_settings
from gateway.standins.elevenlabs import (
    AgentOptions,
    CallTool,
    ElevenLabsStandIn,
    EndCall,
    Listen,
    Say,
    Script,
)
from gateway.standins.elevenlabs.script import next_friday
from gateway.standins.twilio_call import Callee
from gateway.standins.twilio_caller import CallerLine, CallerScript
from gateway.standins.twilio_standin import TwilioStandIn

ACCOUNT_SID = "AC" + "de30" * 8
AUTH_TOKEN = "demo-auth-token"  # noqa: S105 - the stand-in's, not a secret
ELEVENLABS_KEY = "xi-demo-key"
OPERATOR_KEY = "demo-operator-key-0001"
DEBTOR_NUMBER = "+12125550147"
ACCOUNT = "ACC-1001"
CALL_TIMEOUT_S = 120.0

FRIDAY = next_friday().isoformat()

SCRIPTS: dict[str, tuple[Script, list[CallerLine]]] = {
    "en": (
        Script(
            language="en",
            first_message="Hello, this is {{org_name}}. Am I speaking with {{debtor_first_name}}?",
            steps=(
                Listen("Yes, speaking."),
                Say(
                    "Thank you. To protect your privacy, could you tell me the last four "
                    "digits of your document?"
                ),
                Listen("One two three four."),
                CallTool(
                    "verify_identity",
                    {"document_last4": "1234"},
                    on_success="Thank you, you are verified.",
                    on_error="I am sorry, I could not verify you. Please call us. Goodbye.",
                    end_on_error=True,
                ),
                CallTool(
                    "lookup_account",
                    {},
                    on_success=(
                        "I am calling about your account: a payment of "
                        "{{tool_result.pending_balance}} was due last week. Would you be able "
                        "to pay it this week?"
                    ),
                ),
                Listen("Sorry to interrupt. I can pay it on Friday."),
                CallTool(
                    "register_promise",
                    {"amount": "{{pending_balance_amount}}", "date": FRIDAY},
                    on_success=(
                        "Perfect, I have registered your promise to pay on Friday. You will "
                        "get a confirmation by message. Thank you, and goodbye!"
                    ),
                    on_error="I could not register it right now; a colleague will call you.",
                ),
                EndCall(via="client", reason="payment arranged"),
            ),
        ),
        [
            CallerLine("Yes, speaking."),
            CallerLine("One two three four."),
            CallerLine("Sorry to interrupt. I can pay it on Friday.", barge_in_after_ms=2500),
        ],
    ),
    "es": (
        Script(
            language="es",
            first_message="Hola, le llamamos de {{org_name}}. ¿Hablo con {{debtor_first_name}}?",
            steps=(
                Listen("Sí, soy yo."),
                Say(
                    "Gracias. Para proteger sus datos, ¿me dice los cuatro últimos dígitos de "
                    "su documento?"
                ),
                Listen("Uno dos tres cuatro."),
                CallTool(
                    "verify_identity",
                    {"document_last4": "1234"},
                    on_success="Gracias, su identidad está verificada.",
                    on_error="Lo siento, no he podido verificarle. Llámenos, por favor. Adiós.",
                    end_on_error=True,
                ),
                CallTool(
                    "lookup_account",
                    {},
                    on_success=(
                        "Le llamo por su cuenta: tiene un pago de "
                        "{{tool_result.pending_balance}} vencido la semana pasada. ¿Podría "
                        "pagarlo esta semana?"
                    ),
                ),
                Listen("Perdone que le interrumpa. Puedo pagarlo el viernes."),
                CallTool(
                    "register_promise",
                    {"amount": "{{pending_balance_amount}}", "date": FRIDAY},
                    on_success=(
                        "Perfecto, he registrado su promesa de pago para el viernes. Recibirá "
                        "una confirmación por mensaje. Gracias, ¡adiós!"
                    ),
                    on_error="Ahora no puedo registrarla; un compañero le llamará.",
                ),
                EndCall(via="client", reason="pago acordado"),
            ),
        ),
        [
            CallerLine("Sí, soy yo."),
            CallerLine("Uno dos tres cuatro."),
            CallerLine(
                "Perdone que le interrumpa. Puedo pagarlo el viernes.", barge_in_after_ms=2500
            ),
        ],
    ),
}

NAMES = {"en": ("Ann", "Parley Finance"), "es": ("Ana", "Parley Finanzas")}


class LivePrinter:
    """Prints the supervisor's live feed as a transcript."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.ended: dict[str, Any] | None = None

    def show(self, event: dict[str, Any]) -> None:
        kind, data = event["type"], event["data"]
        line = self._describe(kind, data)
        if line is not None:
            label, text = line
            print(f"[{time.monotonic() - self.started:6.2f}s] {label:<12} {text}", flush=True)
        if kind == "call.ended":
            self.ended = data

    @staticmethod
    def _describe(kind: str, data: dict[str, Any]) -> tuple[str, str] | None:
        if kind == "call.status":
            answered = f" ({data['answered_by']})" if data.get("answered_by") else ""
            return "status", f"{data['status']}{answered}"
        simple = {
            "stream.started": ("stream", "media stream connected"),
            "agent.ready": ("agent", f"conversation {data.get('conversation_id', '')} ready"),
        }
        if kind in simple:
            return simple[kind]
        if kind == "agent":
            return "AGENT", data["text"]
        if kind == "caller":
            return "CALLER", data["text"]
        if kind == "interruption":
            return "barge-in", f"caller spoke over the agent (heard {data['heard_s']:.2f}s)"
        if kind == "agent_correction":
            return "  (heard)", data["corrected"]
        if kind == "tool_call":
            return "tool call", f"{data['name']} {orjson.dumps(data['parameters']).decode()}"
        if kind == "tool_result":
            flag = "error: " if data["is_error"] else ""
            return "tool result", f"{flag}{data['result']}"
        if kind == "dtmf":
            return "keypad", data["digit"]
        if kind == "call.ended":
            return "ended", f"{data['outcome']} ({data['reason']})"
        return None


def _settings(port: int, agent: ElevenLabsStandIn, twilio: TwilioStandIn, rec: Path) -> Settings:
    return load_settings(
        public_url=f"http://127.0.0.1:{port}",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_url=twilio.rest_url,
        twilio_from_number="+15550000100",
        elevenlabs_api_key=ELEVENLABS_KEY,
        elevenlabs_agent_id="demo-agent",
        elevenlabs_ws_url=agent.ws_url,
        elevenlabs_api_url=agent.base_url,
        api_keys=f"demo:{OPERATOR_KEY}",
        default_country="US",
        default_locale="en-US",
        default_timezone="America/New_York",
        recordings_dir=rec,
    )


async def _follow(url: str, printer: LivePrinter, ready: asyncio.Event) -> None:
    async with connect(f"{url}/live?api_key={OPERATOR_KEY}") as ws:
        ready.set()
        async for message in ws:
            printer.show(orjson.loads(message))
            if printer.ended is not None:
                return


async def demo(language: str, opening_mode: str, recordings: Path) -> int:
    script, caller_lines = SCRIPTS[language]
    agent = ElevenLabsStandIn(
        AgentOptions(require_auth=True, api_key=ELEVENLABS_KEY, script=script)
    )
    twilio = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    caller = CallerScript(
        tuple(caller_lines), voice=language, speak_first=opening_mode == "callee_first"
    )
    twilio.callees[DEBTOR_NUMBER] = Callee(caller=caller)
    async with agent, twilio:
        port = free_port()
        gateway = InProcessGateway(_settings(port, agent, twilio, recordings), port=port)
        await gateway.start()
        try:
            return await _place_and_follow(gateway, language, opening_mode)
        finally:
            await gateway.stop()


async def _place_and_follow(gateway: InProcessGateway, language: str, opening_mode: str) -> int:
    print(f"parley demo: gateway on {gateway.url}, Twilio and ElevenLabs stand-ins on loopback")
    printer = LivePrinter()
    ready = asyncio.Event()
    follower = asyncio.create_task(_follow(gateway.url.replace("http", "ws"), printer, ready))
    await asyncio.wait_for(ready.wait(), 5)
    body = {"account_id": ACCOUNT, "opening_mode": opening_mode}
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=10, headers={"X-API-Key": OPERATOR_KEY}
    ) as http:
        if not await _load_portfolio(http, language):
            return 1
        placed = await http.post("/api/calls", json=body)
        if placed.status_code != 201:  # e.g. 409: the compliance check refused it
            print(f"could not place the call: {placed.status_code} {placed.text}", file=sys.stderr)
            return 1
        call = placed.json()
        print(
            f"placed call {call['call_sid']} to {DEBTOR_NUMBER} ({opening_mode.replace('_', ' ')})"
        )
        try:
            await asyncio.wait_for(follower, CALL_TIMEOUT_S)
        except TimeoutError:
            print("the call did not end in time", file=sys.stderr)
            return 1
        summary = await _summary(http, call["call_ref"])
        return summary or await _reminder(http)


def afternoon_zone(now: dt.datetime) -> str:
    """A zone where it is mid-afternoon right now (Etc/GMT-5 is UTC+5, POSIX-style).

    The demo's debtor lives there, so the demo runs at any hour of the day and still
    passes the real contact-hours check instead of bypassing it.
    """
    offset = (15 - now.hour) % 24
    if offset > 14:
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


async def _load_portfolio(http: httpx.AsyncClient, language: str) -> bool:
    """Set up the demo organization and its one debtor the way an operator would."""
    debtor, org_name = NAMES[language]
    await http.patch(
        "/api/org",
        json={"name": org_name, "contact_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    )
    zone = afternoon_zone(dt.datetime.now(dt.UTC))
    account = {
        "external_id": ACCOUNT,
        "contact_name": f"{debtor} Smith",
        "total_amount": "120.50",
        "phone": DEBTOR_NUMBER,
        "document": "X1231234",
        "language": language,
        "timezone": zone,
    }
    synced = await http.post("/api/accounts/sync", json=[account])
    if synced.status_code != 200 or synced.json()["rejected_items"]:
        print(f"could not load the demo account: {synced.text}", file=sys.stderr)
        return False
    print(f"loaded account {ACCOUNT} ({debtor} Smith, {DEBTOR_NUMBER}, local time zone {zone})")
    return True


async def _summary(http: httpx.AsyncClient, call_ref: str) -> int:
    record: dict[str, Any] = {}
    for _ in range(100):  # the recording is written off the call path; wait for it
        record = (await http.get(f"/api/calls/{call_ref}")).json()
        path = Path(record.get("recording_path") or "")
        if await asyncio.to_thread(path.is_file):
            break
        await asyncio.sleep(0.05)
    else:
        print("no recording was written", file=sys.stderr)
        return 1
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        channels = wav.getnchannels()
    turns = len(record["transcript"])
    print(f"outcome: {record['outcome']}; {turns} transcript lines")
    account = (await http.get(f"/api/accounts/{record['account_id']}")).json()
    promises = ", ".join(
        f"{p['amount']} {p['currency']} on {p['due_date']} ({p['status']})"
        for p in account.get("promises", [])
    )
    print(f"account {ACCOUNT}: {account.get('status')}; promises: {promises or 'none'}")
    print(f"recording: {path} ({channels} channels: caller left, agent right; {seconds:.1f} s)")
    return 0 if record["outcome"] == "completed" else 1


async def _reminder(http: httpx.AsyncClient) -> int:
    """After the call, an SMS reminder through the Messaging API and its delivery report."""
    sent = await http.post(
        f"/api/accounts/{ACCOUNT}/messages",
        json={"channel": "sms", "template": "payment_reminder", "idempotency_key": "demo-1"},
    )
    if sent.status_code != 201:
        print(f"could not send the SMS reminder: {sent.status_code} {sent.text}", file=sys.stderr)
        return 1
    print(f"SMS reminder sent: {sent.json()['content']}")
    status = "queued"
    for _ in range(200):  # Twilio reports delivery by signed callbacks, a moment later
        items = (await http.get(f"/api/accounts/{ACCOUNT}/messages")).json()["items"]
        status = items[0]["status"] if items else status
        if status in ("delivered", "failed", "undelivered"):
            break
        await asyncio.sleep(0.05)
    print(f"SMS reminder status: {status} (from Twilio's status callbacks)")
    return 0 if status == "delivered" else 1


def run_demo(*, language: str = "en", opening_mode: str = "agent_first") -> int:
    configure_logging("WARNING", json=False)  # the transcript is the demo's output
    recordings = Path("recordings")
    try:
        recordings.mkdir(exist_ok=True)
    except OSError:
        recordings = Path(tempfile.mkdtemp(prefix="parley-recordings-"))
    import uvloop

    return uvloop.run(demo(language, opening_mode, recordings.resolve()))
