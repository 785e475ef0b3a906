"""The Live Calls pages for supervisors, served by the gateway (see ``pages.py``)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from gateway.live_pages import listen, pages

STATIC = Path(__file__).parent / "static"

#: The pages that show an organization's data, by path: walked by the isolation test.
PAGES = [
    Route("/live/calls", pages.calls_page, methods=["GET"]),
    Route("/live/calls/{ref}", pages.call_page, methods=["GET"]),
]


def routes() -> list[BaseRoute]:
    """Every route of the pages: sign-in and out, pages, listen-in, static files."""
    return [
        Route("/live", pages.home, methods=["GET"]),
        Route("/live/sign-in", pages.sign_in_form, methods=["GET"]),
        Route("/live/sign-in", pages.sign_in, methods=["POST"]),
        Route("/live/sign-out", pages.sign_out, methods=["POST"]),
        *PAGES,
        WebSocketRoute("/live/calls/{ref}/listen", listen.listen),
        Mount("/live/static", app=StaticFiles(directory=STATIC), name="live-static"),
    ]
