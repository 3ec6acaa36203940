"""Command line: .venv/bin/python -m bot <command>.

  migrate         bring the database (DATABASE_URL) to the latest schema
  demo            migrate, then load the demo shop into an empty database
  policy check    validate the policy file (POLICY_FILE) and print each market's terms
  report [--from DAY] [--to DAY] [--out DIR]
                  analytics for a date range (default: the last 30 days) as markdown, PNG charts
                  and CSV tables, from DATABASE_URL and TRACKER_STORE_URL
  agent add USERNAME --name NAME --language LANG [--password-stdin]
                  create an agent account for the console (asks for the password)
  import shopify FILE.csv   migrate, then import a Shopify "Export orders" CSV (re-importing updates)
  import tracking FILE.csv  migrate, then import tracking updates (README: "Importing a shop's orders")
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
    imports = sub.add_parser("import", help="import a shop's orders or tracking updates from CSV")
    imports.add_argument("source", choices=["shopify", "tracking"])
    imports.add_argument("file")
    report = sub.add_parser("report", help="analytics for a date range: markdown, PNG charts, CSV tables")
    report.add_argument("--from", dest="start", type=_day, help="first day, YYYY-MM-DD (default: 30 days ago)")
    report.add_argument("--to", dest="end", type=_day, help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--out", default="reports/analytics", help="directory (default: reports/analytics)")
    args = parser.parse_args(argv)

    if args.command in ("migrate", "demo", "import"):
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
    if args.command == "report":
        from datetime import date, timedelta
        from pathlib import Path

        from bot.analytics import build
        from bot.analytics_report import write
        from bot.db import Database
        end = args.end or date.today()
        start = args.start or end - timedelta(days=29)
        if start > end:
            print("the first day is after the last day", file=sys.stderr)
            return 2
        db = Database()
        try:
            files = write(build(db, config.tracker_store_url(), start, end), Path(args.out))
        finally:
            db.dispose()
        print(f"report for {start} to {end}: {files[0]} (+ {len(files) - 1} charts and tables in {args.out})")
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
    if args.command == "import":
        from bot.db import Database
        from bot.importer import FileRejected, import_shopify_orders, import_tracking
        db = Database()
        try:
            imported = (import_shopify_orders if args.source == "shopify" else import_tracking)(db, args.file)
        except FileRejected as exc:
            print(f"{args.file} not imported: {exc}", file=sys.stderr)
            return 2
        finally:
            db.dispose()
        print(imported.summary())
        return 1 if imported.errors else 0
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


def _day(text: str):
    from datetime import date
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-11-30") from None


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
