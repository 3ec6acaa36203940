"""The agent console: a small web app (aiohttp) over the desk (bot/handoff.py) and Rasa's HTTP API.

Every page and API route needs a logged-in agent (an HttpOnly, SameSite=Strict session cookie);
only the login page, the login call and the static scripts do not. Shoppers have no account
here, so they can reach nothing. JSON in, JSON out; bad input is a 4xx with a reason.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot import satisfaction
from bot.analytics import Report
from bot.analytics import build as analytics_build
from bot.analytics_report import CHARTS, chart_png
from bot.engine import OVERRIDE_ACTIONS
from bot.explain import Explainer
from bot.handoff import Agents, AgentInfo, Conflict, Desk, LoginRefused, NotFound
from bot.i18n import render
from bot.language import is_supported
from bot.limits import clean_text
from bot.service import AfterSales, OrderNotFound, jsonable
from bot.translation import TranslationUnavailable, Translator
from console import views
from console.rasa_client import LISTEN, PAUSE, RESUME, RasaClient, RasaUnavailable, say, slot

STATIC = Path(__file__).parent / "static"
COOKIE = "console_session"
CANNED = ("canned.looking_into_it", "canned.need_photo", "canned.refund_approved", "canned.sorry_wait",
          "canned.anything_else")
MAX_TEXT = 2000  # characters an agent can send in one message
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Services:
    agents: Agents
    desk: Desk
    rasa: RasaClient
    translator: Translator
    tracker_store_url: str  # Rasa's conversations, for the analytics
    secure_cookies: bool = False  # set behind HTTPS


SERVICES = web.AppKey("services", Services)


def make_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[_static_errors, _errors, _login_required], client_max_size=MAX_BODY)
    app[SERVICES] = services
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/login", _page("login.html"))
    app.router.add_static("/static/", STATIC)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/canned", canned)
    app.router.add_get("/api/cases/{number}", case)
    app.router.add_post("/api/cases/{number}/claim", claim)
    app.router.add_post("/api/cases/{number}/release", release)
    app.router.add_post("/api/cases/{number}/reply", reply)
    app.router.add_post("/api/cases/{number}/decide", decide)
    app.router.add_post("/api/cases/{number}/hand-back", hand_back)
    app.router.add_get("/dashboard", _page("dashboard.html"))
    app.router.add_get("/api/analytics", analytics)
    app.router.add_get("/api/analytics/charts/{name}.png", analytics_chart)
    return app


# -- plumbing ---------------------------------------------------------------------------------------

PUBLIC = {"/login", "/api/login"}


@web.middleware
async def _login_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC or request.path.startswith("/static/"):
        return await handler(request)
    agent = await asyncio.to_thread(request.app[SERVICES].agents.session, request.cookies.get(COOKIE))
    if agent is None:
        if request.path.startswith("/api/"):
            return _error(401, "log in first")
        raise web.HTTPFound("/login")
    request["agent"] = agent
    return await handler(request)


@web.middleware
async def _static_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A static file name the file system refuses (too long...) is not found, not a 500."""
    try:
        return await handler(request)
    except OSError:
        if request.path.startswith("/static/"):
            raise web.HTTPNotFound() from None
        raise


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFound as exc:
        return _error(404, f"no case {exc}")
    except Conflict as exc:
        return _error(409, str(exc))
    except (ValueError, OrderNotFound) as exc:
        return _error(400, str(exc))
    except RasaUnavailable as exc:
        return _error(502, str(exc))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(jsonable(data), status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


async def _body(request: web.Request) -> dict[str, Any]:
    try:  # JSON is UTF-8 (RFC 8259): a Content-Type naming another or an unknown charset changes nothing
        body = json.loads(await request.read())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _text(body: dict, name: str, required: bool = True, limit: int = MAX_TEXT, clean: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    if clean:  # no control characters or lone surrogates (bot/limits.py); a password is taken as typed
        value = clean_text(value, len(value))
    value = value.strip()
    if required and not value:
        raise ValueError(f"{name} is missing")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value


def _page(name: str) -> Handler:
    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store",
                                                        "Content-Security-Policy": "default-src 'self'"})
    return page


async def _shopper_language(services: Services, row: dict[str, Any]) -> str:
    """The conversation's language now (it may have changed since the case was opened)."""
    tracker = await services.rasa.tracker(row["conversation_id"])
    return (tracker.get("slots") or {}).get("language") or row["language"]


def _catalog_language(language: str) -> str:
    return language if is_supported(language) else "en"


def _notice(sender: AgentInfo, key: str, **params: Any) -> dict[str, Any]:
    """Metadata of a message the console sends for the agent: the agent reads it in their language."""
    return {"agent": sender.username, "notice": True, "original_text": render(key, sender.language, **params),
            "original_language": sender.language}


# -- login ----------------------------------------------------------------------------------------

async def login(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        token, agent = await asyncio.to_thread(request.app[SERVICES].agents.login, _text(body, "username", limit=64),
                                               _text(body, "password", limit=256, clean=False))
    except LoginRefused as exc:
        return _error(401, str(exc))
    response = _json({"agent": agent.__dict__})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.app[SERVICES].secure_cookies,
                        max_age=int(request.app[SERVICES].agents.session_length.total_seconds()), path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    await asyncio.to_thread(request.app[SERVICES].agents.logout, request.cookies.get(COOKIE, ""))
    response = _json({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    return _json({"agent": request["agent"].__dict__})


# -- queue and case -------------------------------------------------------------------------------

async def queue(request: web.Request) -> web.Response:
    return _json({"cases": await asyncio.to_thread(request.app[SERVICES].desk.queue)})


async def canned(request: web.Request) -> web.Response:
    language = request["agent"].language
    return _json({"replies": [{"key": key, "text": render(key, language)} for key in CANNED],
                  "labels": {"original": render("console.original", language)}})


async def case(request: web.Request) -> web.Response:
    app, agent = request.app[SERVICES], request["agent"]
    row = await asyncio.to_thread(app.desk.case, request.match_info["number"])
    order = None
    if row["order_number"]:
        order = await asyncio.to_thread(app.desk.after_sales.snapshot, row["order_number"])
    tracker = await app.rasa.tracker(row["conversation_id"]) if row["conversation_id"] else {}
    lines = await asyncio.to_thread(views.transcript, tracker, agent.language, app.translator, views.protected(order))
    steps = await asyncio.to_thread(views.trace, row.pop("events"), agent.language, order, row["number"],
                                    app.desk.after_sales.policy.business_hours.timezone.key)
    return _json({"case": row, "order": views.order_view(order, agent.language), "trace": steps,
                  "transcript": lines, "paused": bool(tracker.get("paused")),
                  "shopper_language": tracker.get("slots", {}).get("language") or row["language"]})


async def claim(request: web.Request) -> web.Response:
    app, agent = request.app[SERVICES], request["agent"]
    row = await asyncio.to_thread(app.desk.claim, request.match_info["number"], agent)
    if row["conversation_id"]:
        # The bot stays quiet (it may already be) and the shopper learns a person is there.
        language = _catalog_language(await _shopper_language(app, row))
        joined = render("agent_joined", language, agent=agent.name)
        await app.rasa.push(row["conversation_id"], [PAUSE, say(joined, **_notice(agent, "agent_joined",
                                                                                    agent=agent.name))])
    return _json({"case": row})


async def release(request: web.Request) -> web.Response:
    row = await asyncio.to_thread(request.app[SERVICES].desk.release, request.match_info["number"], request["agent"])
    return _json({"case": row})


async def reply(request: web.Request) -> web.Response:
    """The agent writes in their language (or picks a canned reply); the shopper reads theirs."""
    app, agent = request.app[SERVICES], request["agent"]
    body = await _body(request)
    row = await asyncio.to_thread(app.desk.held, request.match_info["number"], agent)
    if not row["conversation_id"]:
        raise ValueError("this case has no conversation to reply in")
    target = await _shopper_language(app, row)
    key = body.get("canned")
    if key is not None:
        if key not in CANNED:
            raise ValueError(f"canned must be one of {', '.join(CANNED)}")
        # Canned replies exist natively in every language: no machine translation needed.
        text, sent, is_translated = render(key, agent.language), render(key, _catalog_language(target)), True
    else:
        text = _text(body, "text")
        order = await asyncio.to_thread(app.desk.after_sales.snapshot, row["order_number"]) if row["order_number"] else None
        try:
            sent = await asyncio.to_thread(app.translator.translate, text, agent.language, target,
                                           views.protected(order))
            is_translated = True
        except TranslationUnavailable:
            sent, is_translated = text, False  # never block the agent: it goes as written, and they are told
    meta = {"agent": agent.username, "original_text": text, "original_language": agent.language,
            "translated": is_translated, **({"canned": key} if key else {})}
    await app.rasa.push(row["conversation_id"], [say(sent, **meta)])
    await asyncio.to_thread(app.desk.record_reply, row["number"], agent,
                            {"text": text, "sent": sent, "language": target, "translated": is_translated})
    label = None if is_translated else render("console.sent_untranslated", agent.language)
    return _json({"sent": sent, "translated": is_translated, "label": label})


async def decide(request: web.Request) -> web.Response:
    """Approve the policy's outcome or override it; what is decided is carried out and explained."""
    app, agent = request.app[SERVICES], request["agent"]
    body = await _body(request)
    action = body.get("action")
    if action not in OVERRIDE_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(OVERRIDE_ACTIONS)}")
    amount = None
    if body.get("amount") not in (None, ""):
        try:
            amount = Decimal(str(body["amount"]))
        except InvalidOperation:
            raise ValueError("amount must be a number") from None
        if not amount.is_finite():
            raise ValueError("amount must be a number")
    note = _text(body, "note")
    number = request.match_info["number"]
    result = await asyncio.to_thread(app.desk.override, number, agent, action, note, amount)
    row = await asyncio.to_thread(app.desk.held, number, agent)
    decision = result.decision
    told = []
    if decision.outcome.value == "allowed" and decision.actions and row["conversation_id"]:
        order = await asyncio.to_thread(app.desk.after_sales.snapshot, row["order_number"])
        language = _catalog_language(await _shopper_language(app, row))
        told = [m.text for m in Explainer(language, order).explain(result)]
        for_agent = [m.text for m in Explainer(agent.language, order).explain(result)]
        await app.rasa.push(row["conversation_id"], [
            say(t, agent=agent.username, notice=True, original_text=mine, original_language=agent.language)
            for t, mine in zip(told, for_agent)])
    status = 200 if decision.outcome.value == "allowed" else 422
    return _json({"rule_id": decision.rule_id, "outcome": decision.outcome.value, "facts": decision.facts,
                  "told_shopper": told, "case": row}, status=status)


async def hand_back(request: web.Request) -> web.Response:
    """Back to the bot, which resumes in the shopper's language knowing the case's new state."""
    app, agent = request.app[SERVICES], request["agent"]
    body = await _body(request)
    close = body.get("close", False)
    if not isinstance(close, bool):
        raise ValueError("close must be true or false")
    row = await asyncio.to_thread(app.desk.hand_back, request.match_info["number"], agent,
                                  _text(body, "note", required=False), close)
    if row["conversation_id"]:
        key = "handed_back.closed" if close else "handed_back.resolved"
        language = _catalog_language(await _shopper_language(app, row))
        text = render(key, language, agent=agent.name, case_number=row["number"])
        events = [RESUME, slot("case_number", row["number"]), slot("case_status", row["status"]),
                  say(text, **_notice(agent, key, agent=agent.name, case_number=row["number"]))]
        if not close:  # resolved: how did we do?
            events += [say(render("rating.ask", language), buttons=satisfaction.buttons(),
                           **_notice(agent, "rating.ask")), slot("rating_asked", True)]
        await app.rasa.push(row["conversation_id"], events + [LISTEN])
    return _json({"case": row})


# -- analytics ------------------------------------------------------------------------------------

def _range(request: web.Request) -> tuple[date, date]:
    try:
        end = date.fromisoformat(request.query["to"]) if request.query.get("to") else date.today()
        start = date.fromisoformat(request.query["from"]) if request.query.get("from") else end - timedelta(days=29)
    except ValueError:
        raise ValueError("from and to are days like 2026-11-30") from None
    if start > end or (end - start).days > 366:
        raise ValueError("from must be before to, at most a year apart")
    return start, end


async def _report(request: web.Request) -> Report:
    app = request.app[SERVICES]
    start, end = _range(request)
    return await asyncio.to_thread(analytics_build, app.desk.db, app.tracker_store_url, start, end)


async def analytics(request: web.Request) -> web.Response:
    return _json(asdict(await _report(request)))


async def analytics_chart(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in CHARTS:
        return _error(404, f"no chart {name}")
    png = await asyncio.to_thread(chart_png, await _report(request), name)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})
