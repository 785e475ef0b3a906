"""The Live Calls pages over HTTP: sign-in, the session cookie, and who sees what.

The browser itself drives these pages in ``tests/browser``; here the rules are checked
request by request against a real gateway.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from backoffice.api.session import SESSION_COOKIE
from tests.integration.harness import ORG_A_KEY, ORG_B_KEY, Gateway, call_sid


async def sign_in(gw: Gateway, key: str, next_: str = "") -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.url) as fresh:
        return await fresh.post("/live/sign-in", data={"api_key": key, "next": next_})


def with_cookie(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}


async def session(gw: Gateway, key: str) -> tuple[str, str]:
    """The session cookie a browser gets for ``key``, and the page's CSRF token."""
    response = await sign_in(gw, key)
    assert response.status_code == 303, response.text
    cookie = response.cookies[SESSION_COOKIE]
    page = await gw.http.get("/live/calls", headers=with_cookie(cookie))
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    return cookie, csrf


async def test_pages_send_a_browser_without_a_session_to_sign_in(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        calls = await gw.http.get("/live/calls")
        one = await gw.http.get("/live/calls/abc")
        form = await gw.http.get(calls.headers["location"])
    assert calls.status_code == 303
    assert calls.headers["location"] == "/live/sign-in?next=/live/calls"
    assert one.headers["location"] == "/live/sign-in?next=/live/calls/abc"
    assert form.status_code == 200
    assert '<label for="api_key">API key</label>' in form.text
    assert 'value="/live/calls"' in form.text


async def test_sign_in_gives_an_httponly_strict_cookie_without_the_key(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        wrong = await sign_in(gw, "not-a-key-0000000000")
        empty = await sign_in(gw, "")
        right = await sign_in(gw, ORG_A_KEY, "/live/calls/xyz")
        elsewhere = await sign_in(gw, ORG_A_KEY, "https://evil.test/")
        scheme_relative = await sign_in(gw, ORG_A_KEY, "//evil.test/live/")
    assert wrong.status_code == 401 and "unknown, mistyped or revoked" in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    assert empty.status_code == 401 and "required" in empty.text
    assert right.status_code == 303 and right.headers["location"] == "/live/calls/xyz"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "Secure" not in cookie  # served over http here; https public URLs get Secure
    assert ORG_A_KEY not in cookie
    assert elsewhere.headers["location"] == "/live/calls"
    assert scheme_relative.headers["location"] == "/live/calls"


async def test_the_session_opens_the_pages_and_the_api_but_changes_need_the_csrf_token(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(21))  # inbound calls belong to org-a here
        cookie, csrf = await session(gw, ORG_A_KEY)
        jar = with_cookie(cookie)
        page = await gw.http.get("/live/calls", headers=jar)
        listed = await gw.http.get("/api/calls", headers=jar)
        hang_up = await gw.http.post(f"/api/calls/{call_sid(21)}/hangup", headers=jar)
        with_token = await gw.http.post(
            f"/api/calls/{call_sid(21)}/hangup", headers={**jar, "X-CSRF-Token": csrf}
        )
    assert page.status_code == 200
    assert "org-a" in page.text and "Start a supervised call" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert [c["call_sid"] for c in listed.json()["calls"]] == [call_sid(21)]
    assert hang_up.status_code == 401
    assert with_token.status_code == 409  # authenticated; the call has no media stream yet


async def test_another_organizations_call_page_is_not_found(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(22))
        record = await gw.services.calls.by_sid(call_sid(22))
        assert record is not None
        own, _ = await session(gw, ORG_A_KEY)
        other, _ = await session(gw, ORG_B_KEY)
        mine = await gw.http.get(f"/live/calls/{record.call_ref}", headers=with_cookie(own))
        theirs = await gw.http.get(f"/live/calls/{record.call_ref}", headers=with_cookie(other))
        by_key = await gw.http.get(f"/live/calls/{call_sid(22)}", headers={"X-API-Key": ORG_B_KEY})
        missing = await gw.http.get("/live/calls/nope", headers=with_cookie(own))
    assert mine.status_code == 200 and f'data-call-sid="{call_sid(22)}"' in mine.text
    for refused in (theirs, by_key, missing):
        assert refused.status_code == 404
        assert call_sid(22) not in refused.text and record.call_ref not in refused.text


async def test_sign_out_clears_the_cookie_with_the_pages_token(tmp_path: Path) -> None:
    async with Gateway(tmp_path) as gw:
        cookie, csrf = await session(gw, ORG_A_KEY)
        jar = with_cookie(cookie)
        forged = await gw.http.post("/live/sign-out", data={"csrf": "nope"}, headers=jar)
        out = await gw.http.post("/live/sign-out", data={"csrf": csrf}, headers=jar)
    assert forged.status_code == 403
    assert out.status_code == 303 and out.headers["location"] == "/live/sign-in"
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert "max-age=0" in out.headers["set-cookie"].lower()


async def test_a_signed_out_session_is_refused_in_every_tab_and_on_the_live_socket(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        cookie, csrf = await session(gw, ORG_A_KEY)
        other_tab, _ = await session(gw, ORG_A_KEY)  # a second sign-in: its own session
        copy = with_cookie(cookie)  # the same cookie, as another tab of the same browser has
        out = await gw.http.post("/live/sign-out", data={"csrf": csrf}, headers=copy)
        again = await gw.http.post("/live/sign-out", data={"csrf": csrf}, headers=copy)
        page = await gw.http.get("/live/calls", headers=copy)
        api = await gw.http.get("/api/calls", headers=copy)
        still = await gw.http.get("/live/calls", headers=with_cookie(other_tab))
        url = gw.url.replace("http", "ws") + "/live"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url,
                additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                origin=Origin(gw.url),
            ):
                pass
    assert out.status_code == 303 and again.status_code == 303
    assert page.status_code == 303 and page.headers["location"].startswith("/live/sign-in")
    assert api.status_code == 401
    assert still.status_code == 200  # only the session signed out ends
    assert refused.value.response.status_code in (401, 403)


async def test_live_sockets_take_the_session_only_from_this_servers_pages(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        cookie, _ = await session(gw, ORG_A_KEY)
        url = gw.url.replace("http", "ws") + "/live?history=1"
        host = gw.url.removeprefix("http://")
        async with connect(
            url, additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, origin=Origin(gw.url)
        ) as ws:
            caught_up = await ws.recv()
        assert '"history.end"' in str(caught_up)
        for origin in ("http://evil.test", None):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    url,
                    additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Host": host},
                    origin=Origin(origin) if origin else None,
                ):
                    pass
            assert refused.value.response.status_code == 403


async def test_listening_is_refused_without_a_session_or_for_another_org(
    tmp_path: Path,
) -> None:
    async with Gateway(tmp_path) as gw:
        await gw.inbound_call(call_sid(23))
        record = await gw.services.calls.by_sid(call_sid(23))
        assert record is not None
        base = gw.url.replace("http", "ws") + f"/live/calls/{record.call_ref}/listen"
        for suffix in ("", f"?api_key={ORG_B_KEY}", f"?api_key={ORG_A_KEY}"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(base + suffix):
                    pass
            # org A's own key is refused too: the call has no live media on this gateway
            assert refused.value.response.status_code == 403
