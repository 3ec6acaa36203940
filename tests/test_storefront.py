"""The storefront and its chat widget in headless Chromium, on real servers: the page's locale (one
right-to-left), a conversation kept across a reload, shopper text shown as text, and a signed-in
customer vouched for by a short-lived signed token. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from bot.i18n import render
from bot.identity import customer_from_token
from bot.models import utcnow
from tests.conftest import ARTIFACTS
from tests.servers import RasaStack, WebApp, demo_shop

SECRET = "storefront-test-secret"


@pytest.fixture(scope="module")
def shop(tmp_path_factory, trained_model):
    work = tmp_path_factory.mktemp("storefront")
    env = {"DATABASE_URL": demo_shop(work), "CUSTOMER_TOKEN_SECRET": SECRET}
    stack = RasaStack(trained_model, work, env).start()
    storefront = WebApp("storefront", work, {**env, "RASA_PUBLIC_URL": stack.url, "STOREFRONT_DEMO_LOGIN": "1"},
                        "STOREFRONT_PORT")
    yield stack, storefront
    storefront.stop()
    stack.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def open_chat(page, url: str | None = None) -> None:
    """Opens the widget (after a reload it may already be open: it remembers)."""
    if url:
        page.goto(url)
    page.locator(".rw-launcher").wait_for()
    page.wait_for_timeout(500)  # the widget restores its state from storage first
    if not page.locator(".rw-new-message").is_visible():
        page.click(".rw-launcher")
    page.locator(".rw-new-message").wait_for()


def say(page, text: str) -> None:
    page.fill(".rw-new-message", text)
    page.press(".rw-new-message", "Enter")


def bot_says(page, text: str, timeout: float = 30_000):
    message = page.locator(".rw-response", has_text=text).first
    message.wait_for(timeout=timeout)
    return message


@pytest.mark.parametrize("language", ["es", "ar", "ja"])
def test_the_widget_speaks_the_pages_language(shop, page, language):
    _, storefront = shop
    open_chat(page, f"{storefront.url}/?lang={language}")
    greeting = bot_says(page, render("greet", language)[:12])
    assert greeting.inner_text().strip() == render("greet", language)
    assert page.get_attribute("html", "dir") == ("rtl" if language == "ar" else "ltr")
    assert greeting.evaluate("e => getComputedStyle(e).direction") == ("rtl" if language == "ar" else "ltr")
    assert page.get_attribute(".rw-new-message", "placeholder") != "Type a message..."  # the widget's own English
    page.screenshot(path=ARTIFACTS / f"storefront-{language}.png")


def test_a_reload_keeps_the_conversation(shop, page):
    stack, storefront = shop
    open_chat(page, f"{storefront.url}/?lang=es")
    bot_says(page, render("greet", "es")[:12])
    say(page, "gracias!")
    bot_says(page, render("thank", "es")[:12])
    session = page.evaluate("() => JSON.parse(localStorage.getItem('chat_session')).session_id")
    assert re.fullmatch(r"[0-9a-f]{32}", session)  # random, never who the shopper is

    page.reload()
    open_chat(page)
    page.locator(".rw-client", has_text="gracias!").wait_for()  # the conversation is still there
    assert page.evaluate("() => JSON.parse(localStorage.getItem('chat_session')).session_id") == session
    say(page, "adiós")
    bot_says(page, render("goodbye", "es")[:12])
    said = [e["text"] for e in stack.tracker(session)["events"] if e["event"] == "user"]
    assert said == ["/greet", "gracias!", "adiós"]  # one conversation, greeted once
    page.screenshot(path=ARTIFACTS / "storefront-after-reload.png")


def test_what_shoppers_write_is_shown_as_text_never_run(shop, page):
    _, storefront = shop
    open_chat(page, f"{storefront.url}/?lang=en")
    bot_says(page, render("greet", "en")[:12])
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'
    say(page, hostile)
    page.locator(".rw-client", has_text="<script>").wait_for()
    assert page.locator(".rw-client").last.inner_text().strip() == hostile
    page.locator(".rw-response").nth(1).wait_for()  # the bot answered and nothing ran
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".rw-messages-container b, .rw-messages-container img[src=x]").count() == 0
    page.screenshot(path=ARTIFACTS / "storefront-html-as-text.png")


def test_a_signed_in_customer_picks_an_order_without_proving_it(shop, page):
    _, storefront = shop
    page.goto(f"{storefront.url}/?lang=en")
    with page.expect_navigation():
        page.select_option("#account", "emily.carter@example.com")
    open_chat(page, f"{storefront.url}/?lang=en")
    bot_says(page, render("greet", "en")[:12])
    say(page, "where is my order?")
    bot_says(page, render("ask_order_pick", "en"))
    buttons = page.locator(".rw-reply").all_inner_texts()
    assert any("SH-10001" in b for b in buttons) and any("SH-10022" in b for b in buttons)
    assert not any("SH-10003" in b for b in buttons)  # only her own orders
    page.screenshot(path=ARTIFACTS / "storefront-signed-in.png")


# -- the storefront's backend, without a browser ----------------------------------------------------

def test_chat_tokens_are_short_lived_and_only_for_the_signed_in_customer(shop):
    _, storefront = shop
    assert requests.get(f"{storefront.url}/api/me").json() == {"customer": None, "chat_token": None}
    session = requests.Session()
    assert session.post(f"{storefront.url}/api/sign-in", json={"email": "nobody@example.com"}).status_code == 404
    assert session.post(f"{storefront.url}/api/sign-in", data="{").status_code == 400
    assert session.post(f"{storefront.url}/api/sign-in", json={"email": "emily.carter@example.com"}).ok
    me = session.get(f"{storefront.url}/api/me").json()
    assert me["customer"] == "emily.carter@example.com"
    assert customer_from_token(me["chat_token"], SECRET, utcnow()) == "emily.carter@example.com"
    assert customer_from_token(me["chat_token"], SECRET, utcnow() + timedelta(minutes=31)) is None
    assert customer_from_token(me["chat_token"], "another secret", utcnow()) is None
    # The login cookie is not a chat token, and a forged one signs nobody in.
    assert customer_from_token(session.cookies["shop_session"], SECRET, utcnow()) is None
    forged = requests.get(f"{storefront.url}/api/me", cookies={"shop_session": me["chat_token"]}).json()
    assert forged == {"customer": None, "chat_token": None}
