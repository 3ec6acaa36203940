"""Alembic environment: migrates the database named by DATABASE_URL (or the URL passed in)."""
from alembic import context

from bot import config as settings
from bot.db import make_engine
from bot.models import Base

url = context.config.attributes.get("url") or settings.database_url()


def run() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run()
