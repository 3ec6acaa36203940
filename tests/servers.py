"""Real Rasa and action servers on loopback, for end-to-end tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from bot.config import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"


def rasa(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """The rasa command line, run in the project."""
    return subprocess.run([str(VENV_BIN / "rasa"), *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def model_name() -> str:
    """The name scripts/run.sh gives the model of the current inputs."""
    fingerprint = subprocess.run([str(PROJECT_ROOT / "scripts" / "model_fingerprint.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip()
    return f"shop-{fingerprint}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, payload=None, timeout: float = 60):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


class RasaStack:
    """An action server and a Rasa server serving `model`, with their own environment and logs."""

    token = "e2e-token"

    def __init__(self, model: Path, workdir: Path, env: dict[str, str] | None = None):
        self.model, self.workdir = model, workdir
        self.rasa_port, self.action_port = free_port(), free_port()
        self.env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false",
                    "ACTION_SERVER_URL": f"http://127.0.0.1:{self.action_port}/webhook",
                    "TRANSLATION_BACKEND": "none", **(env or {})}
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self, timeout: float = 300) -> "RasaStack":
        self.workdir.mkdir(parents=True, exist_ok=True)
        commands = {
            "actions": [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                        "--port", str(self.action_port)],
            "rasa": [str(VENV_BIN / "rasa"), "run", "--model", str(self.model), "--enable-api",
                     "--auth-token", self.token, "--interface", "127.0.0.1", "--port", str(self.rasa_port),
                     "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
        }
        for name, command in commands.items():
            log = open(self.workdir / f"{name}.log", "w")
            self.processes.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.time() + timeout
        for url in (f"http://127.0.0.1:{self.action_port}/health", f"{self.url}/status?token={self.token}"):
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2).read()
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if any(p.poll() is not None for p in self.processes) or time.time() > deadline:
                        self.stop()
                        raise RuntimeError(f"servers did not start; see logs in {self.workdir}")
                    time.sleep(1)
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    # -- talking to it ------------------------------------------------------------------------------

    def send(self, sender: str, text: str, metadata: dict | None = None) -> list[str]:
        payload = {"sender": sender, "message": text, **({"metadata": metadata} if metadata else {})}
        return [m.get("text", "") for m in http_json(f"{self.url}/webhooks/rest/webhook", payload)]

    def parse(self, text: str) -> dict:
        return http_json(f"{self.url}/model/parse?token={self.token}", {"text": text})

    def tracker(self, sender: str) -> dict:
        return http_json(f"{self.url}/conversations/{sender}/tracker?token={self.token}")

    @staticmethod
    def new_sender() -> str:
        return uuid.uuid4().hex
