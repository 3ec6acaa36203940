"""Bring a database to the latest schema with Alembic (the only way the schema is created)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot import config


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(config.PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(config.PROJECT_ROOT / "bot" / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str | None = None) -> None:
    command.upgrade(alembic_config(url), "head")
