"""A person's view, in a real browser (headless Chromium): a shopper writes Spanish in the storefront
widget and asks for a human; an agent who works in English logs into the console, reads the
conversation translated, answers in English; the shopper reads Spanish; the agent hands back and
the bot answers the next question in Spanish. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import subprocess

import pytest

from bot.i18n import render
from tests.conftest import ARTIFACTS
from tests.servers import PROJECT_ROOT, VENV_BIN, RasaStack, WebApp, demo_shop
from tests.standins.libretranslate import LibreTranslateStandIn

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def apps(tmp_path_factory, trained_model):
    work = tmp_path_factory.mktemp("browser")
    libre = LibreTranslateStandIn()
    env = {"DATABASE_URL": demo_shop(work), "TRANSLATION_BACKEND": "libre", "TRANSLATION_BASE_URL": libre.url}
    subprocess.run([str(VENV_BIN / "python"), "-m", "bot", "agent", "add", "maria", "--name", "Maria",
                    "--language", "en", "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), **env},
                   capture_output=True)
    stack = RasaStack(trained_model, work, env).start()
    console = WebApp("console", work, {**env, "RASA_URL": stack.url, "RASA_AUTH_TOKEN": stack.token,
                                      "TRACKER_STORE_URL": stack.env["TRACKER_STORE_URL"]}, "CONSOLE_PORT")
    storefront = WebApp("storefront", work, {"RASA_PUBLIC_URL": stack.url}, "STOREFRONT_PORT")
    yield storefront, console
    for app in (storefront, console, stack):
        app.stop()
    libre.close()


def bot_said(page, text: str, timeout: float = 30_000) -> None:
    page.locator(".rw-response", has_text=text).first.wait_for(timeout=timeout)


def test_an_agent_takes_over_across_languages_and_hands_back(apps, browser):
    storefront, console = apps
    shopper = browser.new_context(locale="es-ES").new_page()
    agent = browser.new_context(locale="en-GB").new_page()

    # The shopper asks for a person in Spanish, in the widget.
    shopper.goto(f"{storefront.url}/?lang=es")
    shopper.click(".rw-launcher")
    bot_said(shopper, render("greet", "es")[:20])
    shopper.fill(".rw-new-message", "hola, necesito hablar con una persona")
    shopper.press(".rw-new-message", "Enter")
    bot_said(shopper, "CS-")
    shopper.screenshot(path=ARTIFACTS / "handoff-1-shopper-asks.png")

    # The agent logs in, finds it in the queue, reads it in English.
    agent.goto(f"{console.url}/")
    assert agent.url.endswith("/login")
    agent.fill("input[name=username]", "maria")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button[type=submit]")
    row = agent.locator("#queue tbody tr", has_text="es").first
    row.wait_for()
    assert "handoff" in row.inner_text() and "normal" in row.inner_text()
    row.click()
    agent.click("#claim")
    first = agent.locator("#transcript li.shopper:not(.payload)").first
    first.locator(".translation").wait_for()
    assert first.locator(".original").inner_text() == "hola, necesito hablar con una persona"
    assert first.locator(".translation").inner_text() == "hi, I need to talk to a person"
    assert "Machine translation" in first.inner_text()
    agent.locator("#trace li[data-kind=decision]", has_text="handoff.requested").wait_for()
    agent.screenshot(path=ARTIFACTS / "handoff-2-agent-reads.png", full_page=True)

    # The agent answers in English; the shopper reads Spanish, live.
    bot_said(shopper, "Maria")  # "Hola, soy Maria del equipo de atención..."
    agent.fill("#reply-text", "I have checked your order and everything is fine.")
    agent.click("#reply-form button[type=submit]")
    bot_said(shopper, "He revisado tu pedido y todo está en orden.")
    shopper.screenshot(path=ARTIFACTS / "handoff-3-shopper-reads-spanish.png")
    agent.locator("#transcript li.agent", has_text="He revisado tu pedido").wait_for()

    # While the agent has it, the shopper's words reach the console and the bot stays quiet.
    shopper.fill(".rw-new-message", "sigo esperando")
    shopper.press(".rw-new-message", "Enter")
    agent.locator("#transcript li.shopper", has_text="I'm still waiting").wait_for()

    # Hand back: the bot says so in Spanish and answers the next question in Spanish.
    agent.click("#resolve")
    bot_said(shopper, render("handed_back.resolved", "es", agent="Maria", case_number="X").split("X")[-1][:25])
    shopper.fill(".rw-new-message", "¿dónde está mi pedido?")
    shopper.press(".rw-new-message", "Enter")
    bot_said(shopper, render("ask_order_number", "es")[:30])
    shopper.screenshot(path=ARTIFACTS / "handoff-4-bot-is-back.png")
    assert agent.locator("#queue tbody tr").count() == 0 or "in_progress" not in agent.locator("#queue").inner_text()
    agent.screenshot(path=ARTIFACTS / "handoff-5-console-after.png", full_page=True)
