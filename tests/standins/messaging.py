"""A stand-in for the messaging platforms' outbound APIs: it records every request (method, path,
query, headers, body) and answers the way the platform does, so a channel's replies can be read
back. One instance per platform, on loopback.

Answers: Telegram Bot API {"ok": true, "result": ...}; Twilio Messages 201 {"sid": ...}; Graph
Send API {"recipient_id", "message_id"}; Slack Web API {"ok": true, "ts": ...}.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Captured:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: object = None
    form: dict[str, str] = field(default_factory=dict)


class MessagingCapture:
    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                captured = Captured(self.command, url.path, {k: v[0] for k, v in parse_qs(url.query).items()},
                                    {k.lower(): v for k, v in self.headers.items()}, body)
                content_type = self.headers.get("Content-Type", "")
                if "json" in content_type:
                    captured.json = json.loads(body)
                elif "form" in content_type:
                    captured.form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                with outer._lock:
                    outer.requests.append(captured)
                status, answer = outer.answer(captured)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(request: Captured) -> tuple[int, dict]:
        path = request.path
        if "/bot" in path:  # Telegram: /bot<token>/<method>
            return 200, {"ok": True, "result": True if path.endswith("answerCallbackQuery")
                         else {"message_id": 1, "date": int(time.time())}}
        if path.endswith("/Messages.json"):
            return 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": request.form.get("To")}
        if path.endswith("/me/messages"):
            return 200, {"recipient_id": (request.json or {}).get("recipient", {}).get("id"),
                         "message_id": "m_" + uuid.uuid4().hex}
        if path.endswith("chat.postMessage"):
            return 200, {"ok": True, "channel": (request.json or {}).get("channel"), "ts": f"{time.time():.6f}"}
        return 404, {"error": "unknown endpoint"}

    def taken(self) -> list[Captured]:
        with self._lock:
            return list(self.requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def wait_for(self, count: int = 1, timeout: float = 30, where=lambda r: True) -> list[Captured]:
        """The first `count` matching requests, waiting up to `timeout` seconds for them."""
        deadline = time.time() + timeout
        while True:
            found = [r for r in self.taken() if where(r)]
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
