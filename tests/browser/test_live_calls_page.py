"""The Live Calls pages in a real browser, with real calls through the stand-ins.

A supervisor of org A signs in, watches the list while a call is placed, opens the
call and sees its transcript (with the part the caller cut off struck through), a
keypad press and the tool call arrive in the order they happened, and sees the call
leave the list when it ends. A supervisor of org B, watching at the same time, sees
none of it. A supervisor whose key is revoked while they follow and listen to a call
is told their session ended, on both, while the call goes on. A page that fell so far
behind that some events were dropped starts again from the calls as they are.
Screenshots of each step go to ``artifacts/browser/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from gateway.hub import LiveEvent
from gateway.standins.elevenlabs import EndCall, Listen
from gateway.standins.twilio_caller import CallerLine
from tests.integration.e2e import DEBTOR, caller, e2e, script
from tests.integration.harness import ORG_A_KEY, ORG_B_KEY, Gateway, ensure_account
from tests.integration.test_live_credentials import new_key, revoke
from tests.system_tools import require_tool

GREETING = "Hello, this is Acme. Am I speaking with Ann?"
TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def _espeak() -> None:
    require_tool("espeak-ng")


async def signed_in(browser: Browser, base_url: str, key: str) -> tuple[BrowserContext, Page]:
    """A browser profile of its own, signed in through the sign-in page."""
    context = await browser.new_context(base_url=base_url)
    page = await context.new_page()
    await page.goto("/live/calls")
    await expect(page).to_have_url(f"{base_url}/live/sign-in?next=/live/calls")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base_url}/live/calls")
    await expect(page.locator("#connection")).to_contain_text("Live", timeout=TIMEOUT_MS)
    cookies = await context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "parley_session"] == [True]
    assert all(key not in c["value"] for c in cookies)
    return context, page


async def test_a_supervisor_follows_a_call_and_another_org_sees_none_of_it(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    agent = script(
        Listen("Sorry, who is this?"),
        Listen("Okay."),
        EndCall(goodbye="Goodbye.", via="client"),
    )
    person = caller(
        CallerLine("Sorry, who is this?", barge_in_after_ms=900),
        CallerLine("Okay.", dtmf="5"),
    )
    async with e2e(tmp_path, agent_script=agent) as rig:
        rig.callee(DEBTOR, person, ring_s=1.0)
        _, org_a = await signed_in(browser, rig.gw.url, ORG_A_KEY)
        _, org_b = await signed_in(browser, rig.gw.url, ORG_B_KEY)
        await expect(org_a.locator("#no-calls")).to_be_visible()

        placed = await rig.place_call(opening_mode="agent_first")
        sid, ref = placed["call_sid"], placed["call_ref"]
        row = org_a.locator(f"#call-{sid}")
        await expect(row).to_be_visible(timeout=TIMEOUT_MS)
        await expect(row.get_by_role("link", name="Ann Example")).to_be_visible()
        await expect(row).to_contain_text(placed["account_id"])
        await expect(row).to_contain_text(DEBTOR)
        await expect(row).to_contain_text("Outbound")
        await expect(row).to_contain_text("In conversation", timeout=TIMEOUT_MS)
        await expect(org_a.locator("#no-calls")).to_be_hidden()
        await org_a.screenshot(path=screenshots / "1-list-with-a-call.png", full_page=True)
        assert await org_b.locator("#calls tbody tr").count() == 0

        href = await row.get_by_role("link").get_attribute("href")
        assert href == f"/live/calls/{ref}"
        view = await org_a.context.new_page()
        await view.goto(href)
        await expect(view.locator("#title-debtor")).to_have_text("Ann Example")
        timeline = view.locator("#timeline > li")
        await expect(timeline.filter(has_text="Sorry, who is this?")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await view.screenshot(path=screenshots / "2-call-view-live.png", full_page=True)
        await expect(timeline.filter(has_text="Call ended")).to_be_visible(timeout=TIMEOUT_MS)
        await expect(row).to_have_count(0, timeout=TIMEOUT_MS)
        await org_a.screenshot(path=screenshots / "3-list-after-the-end.png", full_page=True)
        await view.screenshot(path=screenshots / "4-call-view-ended.png", full_page=True)

        kinds = await timeline.evaluate_all("items => items.map(li => li.dataset.kind)")
        texts = await timeline.evaluate_all(
            "items => items.map(li => li.querySelector('.text').textContent)"
        )
        order = ["agent", "interruption", "caller", "dtmf", "caller", "agent", "tool_call"]
        order += ["tool_result", "ended"]
        assert [k for k in kinds if k in order] == order, kinds
        # The greeting the caller cut off shows what they heard, the rest struck through.
        greeting = view.locator('#timeline > li[data-kind="agent"]').first
        assert await greeting.get_attribute("data-cut") == "true"
        heard = await greeting.locator(".text > span").text_content()
        unheard = await greeting.locator("del").text_content()
        assert heard and unheard and GREETING.startswith(heard) and (heard + unheard) == GREETING
        assert texts[kinds.index("dtmf")] == "the caller pressed 5"
        assert texts[kinds.index("tool_call")].startswith("end_call(")
        await expect(view.locator("#f-end")).to_have_text("agent_ended (completed)")
        await expect(view.locator("#f-state")).to_have_text("Ended")
        await expect(view.locator("#f-number")).to_have_text(DEBTOR)

        # Org B saw nothing: no row ever, and the call's page is not theirs to open.
        assert await org_b.locator("#calls tbody tr").count() == 0
        await org_b.screenshot(path=screenshots / "5-other-org-list.png", full_page=True)
        response = await org_b.goto(href)
        assert response is not None and response.status == 404
        await expect(org_b.get_by_role("heading", name="No such call")).to_be_visible()
        assert sid not in await org_b.content()


async def test_a_supervisor_starts_a_call_listens_in_and_ends_it(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    agent = script(Listen("Hello?"), EndCall(goodbye="Goodbye."))
    async with e2e(tmp_path, agent_script=agent) as rig:
        rig.callee(DEBTOR, caller())  # the person called says nothing: the call waits
        account_id = await ensure_account(rig.gw, "org-a", "ACC-SUPERVISED", DEBTOR)
        _, page = await signed_in(browser, rig.gw.url, ORG_A_KEY)

        await page.get_by_label("Account (id or your reference)").fill("ACC-SUPERVISED")
        await page.get_by_label("Who speaks first").select_option("agent_first")
        await page.get_by_role("button", name="Place the call").click()
        await page.wait_for_url("**/live/calls/*", timeout=TIMEOUT_MS)
        ref = page.url.rsplit("/", 1)[1]
        record = await rig.gw.services.calls.by_ref(ref)
        assert record is not None and record.account_id == account_id
        timeline = page.locator("#timeline > li")
        greeting = page.locator('#timeline > li[data-kind="agent"]')
        await expect(greeting).to_contain_text("Ann?", timeout=TIMEOUT_MS)  # in Spanish

        listen = page.get_by_role("button", name="Listen in")
        await listen.click()
        status = page.locator("#listen-status")
        await expect(status).to_contain_text("s heard", timeout=TIMEOUT_MS)
        await expect(page.get_by_role("button", name="Stop listening")).to_have_attribute(
            "aria-pressed", "true"
        )
        await page.screenshot(path=screenshots / "6-listening.png", full_page=True)
        samples = int(await status.get_attribute("data-samples") or 0)
        assert samples > 0

        await page.get_by_role("button", name="End the call").click()
        await expect(timeline.filter(has_text="Call ended")).to_contain_text(
            "operator_ended", timeout=TIMEOUT_MS
        )
        await expect(status).to_contain_text("The call has ended", timeout=TIMEOUT_MS)
        await expect(page.get_by_role("button", name="End the call")).to_be_disabled()
        await page.screenshot(path=screenshots / "7-ended-by-the-supervisor.png", full_page=True)
        ended = await rig.ended_call(ref)
        assert ended["end_reason"] == "operator_ended"


async def test_a_placement_the_rules_refuse_is_explained_on_the_page(
    tmp_path: Path, browser: Browser
) -> None:
    async with e2e(tmp_path) as rig:
        _, page = await signed_in(browser, rig.gw.url, ORG_A_KEY)
        await page.get_by_label("Account (id or your reference)").fill("no-such-account")
        await page.get_by_role("button", name="Place the call").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("The call was not placed", timeout=TIMEOUT_MS)
        await expect(alert).to_contain_text("not found")
        assert page.url.endswith("/live/calls")


async def test_a_supervisor_takes_a_call_over_with_a_warm_transfer(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    supervisor = "+15550107777"
    async with e2e(tmp_path, agent_script=script(Listen("Hello?"), EndCall())) as rig:
        rig.callee(DEBTOR, caller())  # silent: the call waits for the supervisor
        _, page = await signed_in(browser, rig.gw.url, ORG_A_KEY)
        placed = await rig.place_call(opening_mode="agent_first")
        await page.goto(f"/live/calls/{placed['call_ref']}")
        timeline = page.locator("#timeline > li")
        await expect(timeline.filter(has_text=GREETING)).to_be_visible(timeout=TIMEOUT_MS)

        await page.get_by_label("Your phone number").fill(supervisor)
        await page.get_by_label("Note for the brief").fill("Asked for a manager.")
        await page.get_by_role("button", name="Transfer the call to me").click()
        await expect(timeline.filter(has_text="Transfer")).to_contain_text(supervisor)
        await expect(timeline.filter(has_text="Call ended")).to_contain_text(
            "transferred", timeout=TIMEOUT_MS
        )
        await page.screenshot(path=screenshots / "8-transferred.png", full_page=True)
        twilio_call = await rig.call_end(placed["call_sid"])
        assert twilio_call.transfers == [supervisor]
        # The supervisor's phone heard the brief before the caller was connected.
        brief = "Supervisor transfer: outbound call with Ann Example. Asked for a manager."
        assert twilio_call.whispers == [brief]
        # The page remembers the number for the next call, in this browser only.
        assert await page.evaluate("localStorage.getItem('parley.supervisor_number')") == supervisor


async def test_revoking_the_supervisors_key_stops_the_page_following_and_listening(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    async with e2e(
        tmp_path, agent_script=script(Listen("Hello?"), EndCall()), live_recheck_s=0.2
    ) as rig:
        rig.callee(DEBTOR, caller())  # silent: the call waits
        key_id, key = await new_key(rig.gw)
        _, page = await signed_in(browser, rig.gw.url, key)
        placed = await rig.place_call(opening_mode="agent_first")
        await page.goto(f"/live/calls/{placed['call_ref']}")
        timeline = page.locator("#timeline > li")
        await expect(timeline.filter(has_text=GREETING)).to_be_visible(timeout=TIMEOUT_MS)
        # A long account id wraps inside its own column instead of running over the next.
        account = page.locator("#f-account")
        await expect(account).not_to_have_text("—")
        assert await account.evaluate("e => e.scrollWidth <= e.clientWidth")
        await page.get_by_role("button", name="Listen in").click()
        status = page.locator("#listen-status")
        await expect(status).to_contain_text("s heard", timeout=TIMEOUT_MS)

        await revoke(rig.gw, key_id)
        await expect(status).to_contain_text("Your session has ended", timeout=TIMEOUT_MS)
        await expect(page.locator("#connection")).to_contain_text(
            "Your session has ended", timeout=TIMEOUT_MS
        )
        await page.screenshot(path=screenshots / "9-key-revoked.png", full_page=True)
        # Only the supervisor was cut off: the call goes on.
        assert not rig.gw.services.runners[placed["call_sid"]].bridge.ended


async def test_a_page_that_fell_behind_catches_up_from_the_calls_as_they_are(
    tmp_path: Path, browser: Browser, screenshots: Path
) -> None:
    """The hub drops the oldest events of a supervisor who cannot keep up; here, the end
    of a call. The page is told, starts again from the calls as they are now, and does
    not go on showing a call that has ended."""
    gone = "CA" + "31" * 16
    async with Gateway(tmp_path) as gw:
        _, page = await signed_in(browser, gw.url, ORG_A_KEY)
        publish = gw.services.publish
        publish(LiveEvent("org-a", gone, "call.created", {"direction": "inbound"}))
        row = page.locator(f"#call-{gone}")
        await expect(row).to_be_visible(timeout=TIMEOUT_MS)
        subscriptions = gw.services.hub.subscriber_count
        # Faster than any page reads: the end is among the oldest, which are dropped.
        publish(LiveEvent("org-a", gone, "call.ended", {"reason": "completed"}))
        for _ in range(1100):
            publish(LiveEvent("org-a", gone, "speaker", {"speaker": "caller"}))
        await expect(row).to_have_count(0, timeout=TIMEOUT_MS)
        await expect(page.locator("#no-calls")).to_be_visible()
        await expect(page.locator("#connection")).to_have_text(
            "Live: updates appear as they happen.", timeout=TIMEOUT_MS
        )
        await page.screenshot(path=screenshots / "10-list-after-catching-up.png", full_page=True)
        assert gw.services.hub.subscriber_count == subscriptions
        # And the new feed goes on.
        fresh = "CA" + "32" * 16
        publish(LiveEvent("org-a", fresh, "call.created", {"direction": "inbound"}))
        await expect(page.locator(f"#call-{fresh}")).to_be_visible(timeout=TIMEOUT_MS)
