"""Runs the agent console: .venv/bin/python -m console

Environment: CONSOLE_HOST (127.0.0.1), CONSOLE_PORT (8090), DATABASE_URL, POLICY_FILE, RASA_URL
(http://127.0.0.1:5005), RASA_AUTH_TOKEN, TRACKER_STORE_URL (for the analytics), TRANSLATION_* (bot/translation.py), AGENT_SESSION_HOURS,
CONSOLE_SECURE_COOKIES=1 behind HTTPS. Agents are created with `python -m bot agent add`.
"""
from __future__ import annotations

import logging
import os

from aiohttp import web

from bot import logmask
from bot.config import tracker_store_url
from bot.db import Database
from bot.handoff import Agents, Desk
from bot.policy import load_policy
from bot.service import AfterSales
from bot.translation import Translator
from console.app import Services, make_app
from console.rasa_client import RasaClient


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logmask.install()
    db = Database()
    services = Services(agents=Agents(db), desk=Desk(db, AfterSales(db, load_policy())), rasa=RasaClient(),
                        translator=Translator(db=db), tracker_store_url=tracker_store_url(),
                        secure_cookies=os.environ.get("CONSOLE_SECURE_COOKIES") == "1")
    web.run_app(make_app(services), host=os.environ.get("CONSOLE_HOST", "127.0.0.1"),
                port=int(os.environ.get("CONSOLE_PORT", "8090")), access_log=None)


if __name__ == "__main__":
    main()
