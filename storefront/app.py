"""The demo shop's web page with the rasa-webchat widget (self-hosted: scripts/setup.sh fetches
rasa-webchat 1.0.1 from the npm registry into storefront/vendor/).

`?lang=xx` picks the page's locale, which the widget passes to the bot as its language hint.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from aiohttp import web

from bot.language import SUPPORTED

HERE = Path(__file__).parent
WEBCHAT = HERE / "vendor" / "rasa-webchat" / "lib" / "index.js"
HEADERS = {"Cache-Control": "no-store"}


def make_app(rasa_url: str) -> web.Application:
    app = web.Application()

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "index.html", headers=HEADERS)

    async def config(_request: web.Request) -> web.Response:
        settings = {"rasaUrl": rasa_url, "languages": list(SUPPORTED)}
        return web.Response(text=f"window.SHOP = {json.dumps(settings)};", content_type="application/javascript",
                            headers=HEADERS)

    async def webchat(_request: web.Request) -> web.StreamResponse:
        if not WEBCHAT.exists():
            raise web.HTTPServiceUnavailable(text="the chat widget is not installed: run scripts/setup.sh")
        return web.FileResponse(WEBCHAT)

    app.router.add_get("/", page)
    app.router.add_get("/config.js", config)
    app.router.add_get("/webchat.js", webchat)
    app.router.add_static("/static/", HERE / "static")
    return app


def main() -> None:
    rasa_url = os.environ.get("RASA_PUBLIC_URL") or os.environ.get("RASA_URL") or "http://127.0.0.1:5005"
    web.run_app(make_app(rasa_url), host=os.environ.get("STOREFRONT_HOST", "127.0.0.1"),
                port=int(os.environ.get("STOREFRONT_PORT", "8080")), access_log=None)
