"""A message delivered twice is answered once. A load balancer or a client retries a message when
its connection breaks, and a Rasa server killed just after saving the conversation but before its
answer left has already handled it. A REST client may name each message (`message_id`): a named
message that the conversation already holds is not handled again; its saved answers are sent
instead. The check runs under the conversation's lock, so a retry that races the original waits
for it. Unnamed messages cost nothing extra."""
from __future__ import annotations

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered

CLIENT_ID_PREFIX = "client:"  # channels/rest.py marks the ids a client chose
_handle_message = MessageProcessor.handle_message


def saved_answers(events, message_id: str) -> list[dict] | None:
    """What the bot said after the message with this id, or None if the conversation lacks it."""
    answers, found = [], False
    for event in events:
        if isinstance(event, UserUttered):
            if found:
                break
            found = event.message_id == message_id
        elif found and isinstance(event, BotUttered):
            answers.append({"text": event.text, **{k: v for k, v in (event.data or {}).items() if v}})
    return answers if found else None


async def _handle_once(self: MessageProcessor, message):
    if (message.message_id or "").startswith(CLIENT_ID_PREFIX):
        tracker = await self.tracker_store.retrieve(message.sender_id)
        answers = saved_answers(tracker.events, message.message_id) if tracker else None
        if answers is not None:
            for answer in answers:
                await message.output_channel.send_response(message.sender_id, answer)
            return message.output_channel.messages if isinstance(message.output_channel, CollectingOutputChannel) \
                else None
    return await _handle_message(self, message)


MessageProcessor.handle_message = _handle_once
