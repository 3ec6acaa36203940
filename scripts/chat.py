"""Chat with the running assistant in a terminal, over its REST channel.

    .venv/bin/python scripts/chat.py [--port 5005]

Each run is a new conversation (a random sender id). Ctrl-D or Ctrl-C ends it. Buttons are shown
as [1], [2]...: type the number to press one, as a click in the chat widget would.
"""
from __future__ import annotations

import argparse
import json
import urllib.request
import uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    url = f"http://{args.host}:{args.port}/webhooks/rest/webhook"
    sender = uuid.uuid4().hex
    print("Type a message (Ctrl-D to quit).")
    buttons: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        body = json.dumps({"sender": sender, "message": text}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        buttons = []
        with urllib.request.urlopen(request, timeout=60) as response:
            for message in json.load(response):
                print(f"bot> {message.get('text', '')}")
                for button in message.get("buttons") or []:
                    buttons.append(button)
                    print(f"     [{len(buttons)}] {button.get('title', '')}")


if __name__ == "__main__":
    main()
