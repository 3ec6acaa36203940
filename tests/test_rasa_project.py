"""The Rasa side: data validates, the model trains, test conversations pass, and the README's run
command brings up real servers that answer over REST and stop on Ctrl-C."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from bot.config import PROJECT_ROOT
from bot.i18n import render
from tests.servers import free_port, http_json, rasa


def test_training_data_and_domain_validate_without_warnings():
    result = rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_no_held_out_message_is_in_the_training_data():
    """The held-out split only measures generalization while training never sees its messages, not
    even respelt: compared without case, accents, punctuation or spacing. (Common short messages both
    had, like "ok" or "merci", were taken out of the held-out split: the product needs them trained.)"""
    import re

    from rasa.shared.nlu.training_data.loading import load_data

    from bot.language import SUPPORTED
    from components.intent_classifier import fold

    def normalised(path):
        return {re.sub(r"\W+", "", fold(m.get("text"))): m.get("text")
                for m in load_data(str(path)).training_examples if m.get("text")}

    for language in SUPPORTED:
        training = normalised(PROJECT_ROOT / "data" / "nlu" / f"{language}.yml")
        held_out = normalised(PROJECT_ROOT / "tests" / "nlu_heldout" / f"{language}.yml")
        assert len(training) > 1000 and len(held_out) > 150
        shared = sorted(training[key] for key in training.keys() & held_out.keys())
        assert not shared, f"{language}: {len(shared)} held-out messages in training: {shared[:5]}"


def test_conversation_stories_pass(trained_model, tmp_path):
    result = rasa("test", "core", "--stories", "tests/stories", "--model", str(trained_model),
                  "--fail-on-prediction-errors", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "story_report.json").read_text())
    assert report["accuracy"] == 1.0


def test_run_command_serves_the_assistant_and_stops_on_ctrl_c(trained_models, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    before = {p.name for p in models.glob("*.tar.gz")}
    rasa_port, action_port, shop_port, console_port = free_port(), free_port(), free_port(), free_port()
    env = {**os.environ, "RASA_PORT": str(rasa_port), "ACTION_PORT": str(action_port), "MODELS_DIR": str(models),
           "STOREFRONT_PORT": str(shop_port), "CONSOLE_PORT": str(console_port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "RASA_AUTH_TOKEN": "test-token",
           "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
           "DEMO_AGENT_PASSWORD": "demo-agent-password"}
    log = open(tmp_path / "run.log", "w+")
    # As from a terminal, where Ctrl-C works: a test runner started in the background may have
    # inherited SIGINT ignored, and a shell cannot trap a signal ignored when it started.
    run = subprocess.Popen([str(PROJECT_ROOT / "scripts" / "run.sh")], cwd=PROJECT_ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 400
        while "Press Ctrl-C to stop." not in (tmp_path / "run.log").read_text():
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.time() < deadline, "the assistant did not start in time"
            time.sleep(2)
        output = (tmp_path / "run.log").read_text()
        assert "demo shop loaded: 64 orders" in output
        assert "Model is up to date" in output and {p.name for p in models.glob("*.tar.gz")} == before

        replies = http_json(f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook", {"sender": "t1", "message": "hello!"})
        assert [r["text"] for r in replies] == [render("greet", "en")]

        # The HTTP API needs the token the run command configured.
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{rasa_port}/conversations/t1/tracker", timeout=10)
        assert denied.value.code == 401
        tracker = http_json(f"http://127.0.0.1:{rasa_port}/conversations/t1/tracker?token=test-token")
        assert tracker["latest_message"]["intent"]["name"] == "greet"
        with sqlite3.connect(tmp_path / "tracker.db") as kept:  # conversations are kept in the tracker store
            assert kept.execute("SELECT count(*) FROM events WHERE sender_id = 't1' AND type_name = 'user'"
                                ).fetchone() == (1,)

        # The terminal chat the run command advertises: buttons are numbered, a number presses one.
        chat = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "python"), "scripts/chat.py", "--port",
                               str(rasa_port)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                              input="I want to cancel my order SH-10003\nlucia.fernandez@example.com\n2\n")
        assert f"[2] {render('cancel_reason.found_cheaper', 'en')}" in chat.stdout, chat.stdout
        assert "bot> Just to confirm: shall I cancel order SH-10003" in chat.stdout, chat.stdout

        # The storefront with its self-hosted widget, and the console with the demo agent it printed.
        page = urllib.request.urlopen(f"http://127.0.0.1:{shop_port}/?lang=es", timeout=10).read().decode()
        assert '<script src="/webchat.js">' in page
        assert len(urllib.request.urlopen(f"http://127.0.0.1:{shop_port}/webchat.js", timeout=10).read()) > 500_000
        assert f"http://127.0.0.1:{console_port}/  (user demo, password demo-agent-password)" in output
        login = urllib.request.Request(f"http://127.0.0.1:{console_port}/api/login", json.dumps(
            {"username": "demo", "password": "demo-agent-password"}).encode(), {"Content-Type": "application/json"})
        cookie = urllib.request.urlopen(login, timeout=10).headers["Set-Cookie"].split(";")[0]
        queue = urllib.request.Request(f"http://127.0.0.1:{console_port}/api/queue", headers={"Cookie": cookie})
        assert json.load(urllib.request.urlopen(queue, timeout=10)) == {"cases": []}
    finally:
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends to the script
        try:
            run.wait(90)
        except subprocess.TimeoutExpired:
            left = subprocess.run(["ps", "-o", "pid,stat,etime,args", "--forest", "-g", str(run.pid)],
                                  capture_output=True, text=True).stdout
            os.killpg(run.pid, signal.SIGKILL)
            raise AssertionError(f"Ctrl-C did not stop the run command:\n{left}\n"
                                 + (tmp_path / "run.log").read_text()[-2000:]) from None
    assert "stopped." in (tmp_path / "run.log").read_text()
    for port in (rasa_port, action_port, shop_port, console_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still served after Ctrl-C"
