"""The console's side of a takeover, through Rasa's HTTP API (token-protected): read a conversation,
and push events into it — pause, the agent's messages (delivered live on the shopper's channel),
slots, resume."""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import aiohttp


SAFE_IN_PATH = "/:@!$&'()*+,;=-._~"


class RasaUnavailable(RuntimeError):
    pass


class RasaClient:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10):
        self.url = (url or os.environ.get("RASA_URL") or "http://127.0.0.1:5005").rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_AUTH_TOKEN", "")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _endpoint(self, conversation_id: str, suffix: str = "") -> str:
        # Rasa 3.6 does not decode escapes in this path: only what cannot stand in a URL is escaped.
        return f"{self.url}/conversations/{quote(conversation_id, safe=SAFE_IN_PATH)}/tracker{suffix}"

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._call("GET", self._endpoint(conversation_id), params={"token": self.token})

    async def push(self, conversation_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Append events; bot messages among them go out on the conversation's latest channel."""
        params = {"token": self.token, "output_channel": "latest", "execute_side_effects": "true"}
        return await self._call("POST", self._endpoint(conversation_id, "/events"), params=params, json=events)

    async def _call(self, method: str, url: str, **kwargs) -> dict[str, Any]:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.request(method, url, **kwargs) as response:
                    if response.status >= 400:
                        raise RasaUnavailable(f"Rasa answered {response.status}: {(await response.text())[:200]}")
                    return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa is not reachable at {self.url}: {exc}") from None


def say(text: str, buttons: list[dict[str, str]] | None = None, **metadata: Any) -> dict[str, Any]:
    event = {"event": "bot", "text": text, "metadata": metadata}
    if buttons:
        event["data"] = {"buttons": buttons}
    return event


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


PAUSE = {"event": "pause"}
RESUME = {"event": "resume"}
LISTEN = {"event": "action", "name": "action_listen"}  # the bot waits for the shopper's next message
