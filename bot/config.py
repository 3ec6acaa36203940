"""Settings from the environment, with defaults that run the demo shop on one laptop."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """DATABASE_URL, e.g. postgresql://user@host/shop; default: an embedded SQLite file in var/."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{PROJECT_ROOT / 'var' / 'shop.db'}"


def policy_file() -> Path:
    """POLICY_FILE: the shop's after-sales policy (YAML)."""
    return Path(os.environ.get("POLICY_FILE") or PROJECT_ROOT / "policy.yml")


def tracker_store_url() -> str:
    """TRACKER_STORE_URL: where Rasa keeps conversations (its own database, never the case database);
    default: an embedded SQLite file in var/."""
    return os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"


def fallback_threshold() -> float:
    """The confidence below which config.yml's FallbackClassifier says it did not understand."""
    import yaml

    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    return float(next(c["threshold"] for c in pipeline if c["name"] == "FallbackClassifier"))
