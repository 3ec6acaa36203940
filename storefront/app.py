"""The demo shop's web page with the rasa-webchat widget (self-hosted: scripts/setup.sh fetches
rasa-webchat 1.0.1 from the npm registry into storefront/vendor/).

The page's locale (`?lang=xx`) becomes the widget's language hint. A signed-in customer's widget
carries a short-lived token signed with CUSTOMER_TOKEN_SECRET (bot/identity.py), which the bot
trusts instead of asking for the order number and e-mail: this backend is where a shop would issue
it, from its own login. The demo's login is a list of the demo customers (STOREFRONT_DEMO_LOGIN=1,
set by scripts/run.sh), with no password: it stands in for the shop's own.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from bot.db import Database
from bot.identity import customer_from_token, sign_customer_token
from bot.language import SUPPORTED
from bot.limits import clean_text
from bot.models import Customer, utcnow

HERE = Path(__file__).parent
WEBCHAT = HERE / "vendor" / "rasa-webchat" / "lib" / "index.js"
HEADERS = {"Cache-Control": "no-store"}
SESSION_COOKIE = "shop_session"
SESSION = timedelta(hours=8)  # the shop's own login
CHAT_TOKEN = timedelta(minutes=30)  # what the widget carries: short-lived
DEMO_CUSTOMERS = 8


@web.middleware
async def static_errors(request: web.Request, handler) -> web.StreamResponse:
    """A static file name the file system refuses (too long...) is not found, not a 500."""
    try:
        return await handler(request)
    except OSError:
        if request.path.startswith("/static/"):
            raise web.HTTPNotFound() from None
        raise


def make_app(rasa_url: str, secret: str | None, db: Database | None = None, demo_login: bool = False) -> web.Application:
    app = web.Application(client_max_size=4096, middlewares=[static_errors])
    # The shop's login cookie is signed with its own key, so it can never pass for a chat token.
    session_key = f"{secret}:storefront-session" if secret else None

    def signed_in(request: web.Request) -> str | None:
        return customer_from_token(request.cookies.get(SESSION_COOKIE), session_key, utcnow())

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "index.html", headers=HEADERS)

    async def config(_request: web.Request) -> web.Response:
        settings = {"rasaUrl": rasa_url, "languages": list(SUPPORTED), "demoLogin": demo_login}
        return web.Response(text=f"window.SHOP = {json.dumps(settings)};", content_type="application/javascript",
                            headers=HEADERS)

    async def webchat(_request: web.Request) -> web.StreamResponse:
        if not WEBCHAT.exists():
            raise web.HTTPServiceUnavailable(text="the chat widget is not installed: run scripts/setup.sh")
        return web.FileResponse(WEBCHAT)

    async def me(request: web.Request) -> web.Response:
        email = signed_in(request)
        token = sign_customer_token(email, secret, utcnow(), CHAT_TOKEN) if email else None
        return web.json_response({"customer": email, "chat_token": token}, headers=HEADERS)

    async def demo_customers(_request: web.Request) -> web.Response:
        if not demo_login or db is None:
            raise web.HTTPNotFound()
        with db.transaction() as session:
            rows = session.execute(select(Customer.name, Customer.email).order_by(Customer.id).limit(DEMO_CUSTOMERS)).all()
        return web.json_response({"customers": [{"name": n, "email": e} for n, e in rows]})

    async def sign_in(request: web.Request) -> web.Response:
        if not demo_login or db is None or not secret:
            raise web.HTTPNotFound()
        try:
            email = json.loads(await request.read())["email"]  # UTF-8 whatever the Content-Type says
            if not isinstance(email, str):
                raise TypeError("email must be text")
            email = email.strip().lower()
            if len(email) > 254 or clean_text(email, 254) != email:  # no control characters or lone surrogates
                raise ValueError("not an e-mail address")
        except (ValueError, KeyError, TypeError, RecursionError):
            return web.json_response({"error": "send {\"email\": ...}"}, status=400)
        with db.transaction() as session:
            known = session.execute(select(Customer.id).where(Customer.email == email)).first()
        if not known:
            return web.json_response({"error": "no such customer"}, status=404)
        response = web.json_response({"customer": email})
        response.set_cookie(SESSION_COOKIE, sign_customer_token(email, session_key, utcnow(), SESSION), httponly=True,
                            samesite="Lax", max_age=int(SESSION.total_seconds()), path="/")
        return response

    async def sign_out(_request: web.Request) -> web.Response:
        response = web.json_response({"customer": None})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    app.router.add_get("/", page)
    app.router.add_get("/config.js", config)
    app.router.add_get("/webchat.js", webchat)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/demo-customers", demo_customers)
    app.router.add_post("/api/sign-in", sign_in)
    app.router.add_post("/api/sign-out", sign_out)
    app.router.add_static("/static/", HERE / "static")
    return app


def main() -> None:
    import logging

    from bot import logmask
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logmask.install()
    rasa_url = os.environ.get("RASA_PUBLIC_URL") or os.environ.get("RASA_URL") or "http://127.0.0.1:5005"
    demo_login = os.environ.get("STOREFRONT_DEMO_LOGIN") == "1"
    app = make_app(rasa_url, os.environ.get("CUSTOMER_TOKEN_SECRET") or None, Database() if demo_login else None,
                   demo_login)
    web.run_app(app, host=os.environ.get("STOREFRONT_HOST", "127.0.0.1"),
                port=int(os.environ.get("STOREFRONT_PORT", "8080")), access_log=None)
