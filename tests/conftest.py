"""Shared fixtures: real databases (SQLite and a throwaway PostgreSQL), the shipped policy."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import PROJECT_ROOT
from bot.db import Database
from bot.migrate import upgrade
from bot.policy import load_policy
from tests.servers import model_name, rasa

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TRANSLATION_BACKEND", "none")  # no test may reach for the internet


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory):
    """A model trained from the current data, in a directory of its own, named as the run command names it."""
    out = tmp_path_factory.mktemp("models")
    result = rasa("train", "--out", str(out), "--fixed-model-name", model_name(), timeout=3600)  # ~20 min on 2 cores
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def trained_model(request):
    """The model of the current inputs. TEST_MODEL=path reuses a model while working on tests that do
    not change its inputs (never set in CI: the suite trains its own)."""
    if os.environ.get("TEST_MODEL"):
        return os.environ["TEST_MODEL"]
    return request.getfixturevalue("trained_models") / f"{model_name()}.tar.gz"


@pytest.fixture(scope="session")
def policy():
    return load_policy(PROJECT_ROOT / "policy.yml")


@pytest.fixture(scope="session")
def postgres_admin_url():
    """An admin URL of a PostgreSQL server: TEST_POSTGRES_URL, or a throwaway cluster started here."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    # Not under pytest's tmp dir: the server runs as the postgres account, which cannot enter it.
    cluster = tempfile.mkdtemp(prefix="shop-test-pg-")
    script = str(PROJECT_ROOT / "scripts" / "postgres.sh")
    url = subprocess.run([script, "start", cluster], check=True, capture_output=True, text=True).stdout.strip()
    yield url
    subprocess.run([script, "stop", cluster], check=False)
    shutil.rmtree(cluster, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url():
    """A throwaway Redis on loopback (scripts/redis.sh), nothing kept on disk."""
    home = tempfile.mkdtemp(prefix="shop-test-redis-")
    script = str(PROJECT_ROOT / "scripts" / "redis.sh")
    url = subprocess.run([script, "start", home], check=True, capture_output=True, text=True).stdout.strip()
    yield url
    subprocess.run([script, "stop", home], check=False)
    shutil.rmtree(home, ignore_errors=True)


def create_postgres_database(admin_url: str) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each kind (created and dropped by the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shop.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    yield url
    drop_postgres_database(admin_url, url)


@pytest.fixture
def db(database_url):
    """A migrated, empty case database."""
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def now():
    return datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)  # a Wednesday, in business hours


@pytest.fixture
def demo_db(db, now):
    from bot.demo import load_demo
    load_demo(db, now=now)
    return db


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"  # screenshots of the browser tests (not in git)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (scripts/chromium.sh installs it). One per
    module: Playwright runs an event loop while it is open, which asyncio tests elsewhere must not meet."""
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
