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


def demo_shop(directory: Path, now=None) -> str:
    """A migrated SQLite database in `directory` holding the demo shop; returns its URL."""
    from bot.db import Database
    from bot.demo import load_demo
    from bot.migrate import upgrade

    url = f"sqlite:///{directory / 'shop.db'}"
    upgrade(url)
    db = Database(url)
    load_demo(db, now=now)
    db.dispose()
    return url


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
                    "TRANSLATION_BACKEND": "none", "TRACKER_STORE_URL": f"sqlite:///{workdir / 'tracker.db'}",
                    **(env or {})}
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self, timeout: float = 300, workers: int = 1) -> "RasaStack":
        """`workers` > 1: the Rasa server runs that many worker processes (SANIC_WORKERS; they need
        REDIS_URL in the environment)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._spawn("actions")
        self._spawn("rasa", self._rasa_command(self.rasa_port), {"SANIC_WORKERS": str(workers)})
        self._wait([f"http://127.0.0.1:{self.action_port}/health", f"{self.url}/status?token={self.token}"], timeout)
        return self

    def _rasa_command(self, port: int) -> list[str]:
        return [str(VENV_BIN / "rasa"), "run", "--model", str(self.model), "--enable-api", "--auth-token", self.token,
                "--interface", "127.0.0.1", "--port", str(port), "--endpoints", "endpoints.yml",
                "--credentials", "credentials.yml", "--cors", "*"]

    def start_rasa(self, name: str, port: int | None = None, timeout: float = 300) -> str:
        """Another Rasa server (same model, endpoints, action server and environment), or one started
        again on its old port; returns its URL."""
        port = port or free_port()
        self._spawn(name, self._rasa_command(port))
        url = f"http://127.0.0.1:{port}"
        self._wait([f"{url}/status?token={self.token}"], timeout)
        return url

    def kill(self, name: str) -> None:
        """Stops a server at once, as a crash would (SIGKILL: nothing is flushed)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(30)

    def stop_actions(self) -> None:
        self.kill("actions")

    def start_actions(self, timeout: float = 120) -> None:
        self._spawn("actions")
        self._wait([f"http://127.0.0.1:{self.action_port}/health"], timeout)

    def restart_actions(self, env: dict[str, str], timeout: float = 120) -> None:
        """A new action server on the same port (e.g. on a fresh shop database); Rasa stays up."""
        old = self.processes.pop("actions")
        old.terminate()
        old.wait(30)
        self.env.update(env)
        self._spawn("actions")
        self._wait([f"http://127.0.0.1:{self.action_port}/health"], timeout)

    def _spawn(self, name: str, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        command = command or [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                              "--port", str(self.action_port)]
        log = open(self.workdir / f"{name}.log", "a")
        self.processes[name] = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**self.env, **(env or {})}, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, urls: list[str], timeout: float) -> None:
        deadline = time.time() + timeout
        for url in urls:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2).read()
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if any(p.poll() is not None for p in self.processes.values()) or time.time() > deadline:
                        self.stop()
                        raise RuntimeError(f"servers did not start; see logs in {self.workdir}")
                    time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    # -- talking to it ------------------------------------------------------------------------------

    def send(self, sender: str, text: str, metadata: dict | None = None) -> list[str]:
        return [m.get("text", "") for m in self.send_full(sender, text, metadata)]

    def send_full(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        """The REST channel's whole answer: texts and their buttons."""
        payload = {"sender": sender, "message": text, **({"metadata": metadata} if metadata else {})}
        return http_json(f"{self.url}/webhooks/rest/webhook", payload)

    def parse(self, text: str) -> dict:
        return http_json(f"{self.url}/model/parse?token={self.token}", {"text": text})

    def tracker(self, sender: str) -> dict:
        return http_json(f"{self.url}/conversations/{sender}/tracker?token={self.token}")

    @staticmethod
    def new_sender() -> str:
        return uuid.uuid4().hex


class WebApp:
    """One of our web apps (`python -m console`, `python -m storefront`) on a free loopback port."""

    def __init__(self, module: str, workdir: Path, env: dict[str, str], port_variable: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env, port_variable: str(self.port)}
        workdir.mkdir(parents=True, exist_ok=True)
        log = open(workdir / f"{module}.log", "a")
        self.process = subprocess.Popen([str(VENV_BIN / "python"), "-m", module], cwd=PROJECT_ROOT, env=environment,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{module} did not start; see {workdir}/{module}.log")
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
