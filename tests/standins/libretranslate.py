"""A LibreTranslate stand-in: POST /translate with q, source, target (query or form), JSON back.

It "translates" from a small phrase book and otherwise marks the text with the target language,
which is enough to see that text went through translation, in which direction, and that the
masked parts (order numbers, e-mails...) came back untouched. `fail=True` answers 503.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PHRASES = {
    ("sv", "en"): {"hej": "hello", "var är mitt paket": "where is my parcel",
                   "hej, jag vill prata med en människa": "hi, I want to talk to a human",
                   "tack så mycket": "thank you very much"},
    ("es", "en"): {"hola, necesito hablar con una persona": "hi, I need to talk to a person",
                   "sigo esperando": "I'm still waiting"},
    ("en", "es"): {"i have checked your order and everything is fine": "He revisado tu pedido y todo está en orden",
                   "hello": "hola"},
}


class LibreTranslateStandIn:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                params.update({k: v[0] for k, v in parse_qs(body).items()})
                outer.requests.append(params)
                if outer.fail or urlparse(self.path).path != "/translate":
                    self.send_response(503 if outer.fail else 404)
                    self.end_headers()
                    return
                payload = json.dumps({"translatedText": outer.translate(params["q"], params["source"],
                                                                        params["target"])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def translate(text: str, source: str, target: str) -> str:
        book = PHRASES.get((source, target), {})
        lowered = text.lower().strip(" ?!.")
        for phrase, translation in sorted(book.items(), key=lambda p: -len(p[0])):  # longest first
            if lowered.startswith(phrase):
                return translation + text.strip()[len(phrase):]
        return f"[{target}] {text}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
