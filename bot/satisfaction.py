"""Satisfaction: a 1-5 rating asked at the end of a resolved conversation, kept for the analytics."""
from __future__ import annotations

import re
from datetime import datetime

from bot.db import Database
from bot.models import Rating

SCORES = (1, 2, 3, 4, 5)
# "4", "4/5", "4 ⭐", "⭐⭐⭐⭐", a full-width "４": what people type instead of pressing a button.
_NUMBER = re.compile(r"\s*([1-5１-５])\s*(?:/\s*5)?\s*[⭐★]*\s*[.!]?\s*")
_STARS = re.compile(r"\s*([⭐★]{1,5})\s*")


def buttons() -> list[dict[str, str]]:
    return [{"title": f"{score} " + "⭐" * score, "payload": f'/inform{{"rating": "{score}"}}'} for score in SCORES]


def rating_from(text: str | None, entity: str | None = None) -> int | None:
    """The score a message gives, or None when it is not a rating."""
    for candidate in (entity, text):
        if not isinstance(candidate, str):
            continue
        number = _NUMBER.fullmatch(candidate)
        if number:
            return int(number.group(1).translate(str.maketrans("１２３４５", "12345")))
        stars = _STARS.fullmatch(candidate)
        if stars:
            return len(stars.group(1))
    return None


def record(db: Database, conversation_id: str, score: int, language: str, channel: str | None,
           case_number: str | None, at: datetime) -> None:
    if score not in SCORES:
        raise ValueError(f"a rating is one of {SCORES}")
    with db.transaction() as session:
        session.add(Rating(conversation_id=conversation_id, score=score, language=language, channel=channel,
                           case_number=case_number, at=at))
