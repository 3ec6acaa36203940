"""No e-mail address or phone number in the logs, even Rasa's debug log (which prints whole
messages and trackers): real servers at LOG_LEVEL=DEBUG, a shopper giving both, the log files read."""
from __future__ import annotations

import logging

import pytest

from bot.logmask import MaskPersonalData, mask
from tests.servers import RasaStack, demo_shop


@pytest.mark.parametrize("text, shown", [
    ("my mail is lucia.fernandez@example.com", "my mail is l***@example.com"),
    ("call me on +34 612 34 56 78", "call me on +34 *** 78"),
    ("or 612 34 56 78", "or 612 *** 78"),
    ("order SH-10482 at 2026-12-02 00:38:11, ts 1733094000.123", "order SH-10482 at 2026-12-02 00:38:11, ts 1733094000.123"),
])
def test_what_is_masked_and_what_is_not(text, shown):
    assert mask(text) == shown


def test_the_filter_masks_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("test.logmask")
    caplog.handler.addFilter(MaskPersonalData())
    logger.warning("shopper %s wrote", "emily.carter@example.com")
    try:
        raise ValueError("bad proof +44 20 7946 0958")
    except ValueError:
        logger.exception("failed")
    text = caplog.text
    assert "emily.carter@example.com" not in text and "e***@example.com" in text
    assert "7946" not in text and "+44 *** 58" in text


def test_the_servers_debug_logs_keep_no_personal_data(tmp_path, trained_model):
    stack = RasaStack(trained_model, tmp_path, {"DATABASE_URL": demo_shop(tmp_path), "LOG_LEVEL": "DEBUG"}).start()
    try:
        sender = stack.new_sender()
        stack.send(sender, "where is my order SH-10003?")
        stack.send(sender, "lucia.fernandez@example.com, or call me on +34 612 34 56 78")
        assert stack.tracker(sender)["slots"]["current_order"] == "SH-10003"  # it was understood all the same
    finally:
        stack.stop()
    logs = (tmp_path / "rasa.log").read_text() + (tmp_path / "actions.log").read_text()
    assert "l***@example.com" in logs  # the debug log did print the message, masked
    assert "lucia.fernandez@example.com" not in logs and "612 34 56 78" not in logs
