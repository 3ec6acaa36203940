"""When the action server cannot run an action (down, restarting, its database unreachable), the
shopper gets the localized "try again in a few minutes" instead of silence, once per message.

Rasa 3.6 logs the failure and carries on without a word to the shopper, and has no hook for it:
this wraps its RemoteAction.run (imported with our NLU components, so it is in place in every Rasa
server). The conversation goes on as soon as the action server answers again.
"""
from __future__ import annotations

import logging

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.events import BotUttered
from rasa.shared.exceptions import RasaException

from bot.i18n import render
from bot.language import is_supported

logger = logging.getLogger(__name__)
NOTICE = "actions_unavailable"  # marks the notice in the message's metadata
_run = RemoteAction.run


# Run while the message is read, before any reply: what it says would never reach the shopper, so
# Rasa's own handling stays (it logs and goes on), and the action that answers apologises instead.
_SILENT = {"action_validate_slot_mappings"}


async def _run_or_apologise(self, output_channel, nlg, tracker, domain):
    try:
        return await _run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise  # a form declining a message: part of a normal conversation
    except RasaException as failure:
        if self.name() in _SILENT:
            raise
        logger.error("action %s failed, the shopper is told to retry: %s", self.name(), failure)
        if _already_told(tracker):
            return []
        language = tracker.get_slot("language") or "en"
        return [BotUttered(render("service_unavailable", language if is_supported(language) else "en"),
                           metadata={NOTICE: True})]


def _already_told(tracker) -> bool:
    for event in reversed(tracker.events):
        if event.type_name == "user":
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(NOTICE):
            return True
    return False


if getattr(RemoteAction.run, "__name__", "") != _run_or_apologise.__name__:
    RemoteAction.run = _run_or_apologise
