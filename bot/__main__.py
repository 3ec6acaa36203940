"""Command line: .venv/bin/python -m bot <command>.

  migrate         bring the database (DATABASE_URL) to the latest schema
  demo            migrate, then load the demo shop into an empty database
  policy check    validate the policy file (POLICY_FILE) and print each market's terms
  agent add USERNAME --name NAME --language LANG [--password-stdin]
                  create an agent account for the console (asks for the password)
"""
from __future__ import annotations

import argparse
import getpass
import sys

from bot import config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database to the latest schema")
    sub.add_parser("demo", help="migrate and load the demo shop into an empty database")
    policy = sub.add_parser("policy", help="policy file tools")
    policy.add_argument("action", choices=["check"])
    policy.add_argument("file", nargs="?", help="default: POLICY_FILE or policy.yml")
    agent = sub.add_parser("agent", help="agent accounts for the console")
    agent.add_argument("action", choices=["add"])
    agent.add_argument("username")
    agent.add_argument("--name", required=True, help="shown to shoppers, e.g. Maria")
    agent.add_argument("--language", required=True, help="working language, e.g. en")
    agent.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)

    if args.command in ("migrate", "demo"):
        from bot.migrate import upgrade
        upgrade()
        print(f"database at the latest schema: {_safe_url(config.database_url())}")
    if args.command == "demo":
        from bot.db import Database
        from bot.demo import load_demo
        db = Database()
        try:
            print(f"demo shop loaded: {load_demo(db)} orders")
        except RuntimeError as exc:
            print(f"demo shop not loaded: {exc}", file=sys.stderr)
            return 1
        finally:
            db.dispose()
    if args.command == "agent":
        from bot.db import Database
        from bot.handoff import Agents
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
        db = Database()
        try:
            created = Agents(db).add(args.username, args.name, args.language, password)
        except ValueError as exc:
            print(f"agent not created: {exc}", file=sys.stderr)
            return 1
        finally:
            db.dispose()
        print(f"agent {created.username} created (works in {created.language})")
    if args.command == "policy":
        from bot.policy import PolicyError, load_policy
        try:
            policy = load_policy(args.file)
        except PolicyError as exc:
            print(f"policy rejected: {exc}", file=sys.stderr)
            return 1
        print(f"{policy.source}: version {policy.version}, OK")
        for market in ["defaults", *policy.markets]:
            country = market if len(market) == 2 else next(
                (c for c, r in policy.region_of.items() if r == market), "ZZ")
            t = policy.terms_for(country)
            print(f"  {market:8} return window {t.return_window_days:>2} d, refund within {t.refund_deadline_days} d, "
                  f"intercept up to {t.intercept_reship_max_value} {policy.base_currency}, duties {t.duties}")
    return 0


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
