"""Personal data out of the logs: e-mail addresses and phone numbers are masked in every log line
our processes write (the Rasa server, the action server, the console, the storefront), whatever
logged them and at whatever level (Rasa's debug log prints whole messages and trackers).

    lucia.fernandez@example.com -> l***@example.com      +34 612 34 56 78 -> +34 *** 78
Street addresses have no pattern to find them by: they are never logged by our code.
"""
from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
# International numbers (+34 612 34 56 78), and national ones written in groups (612 34 56 78);
# not dates, times, ids or timestamps, which debugging needs.
_PHONE = re.compile(r"(\+\d{1,3})[\d ().-]{6,}(\d{2})|\b(\d{2,4})(?:[ .]\d{2,4}){2,3}[ .](\d{2})\b")


def _phone(match: re.Match) -> str:
    start, end = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return f"{start} *** {end}"


def mask(text: str) -> str:
    return _PHONE.sub(_phone, _EMAIL.sub(r"\1***@\2", text))


class MaskPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def install() -> None:
    """On every handler of the root logger (a logger's own filters would miss what its children log)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, MaskPersonalData) for f in handler.filters):
            handler.addFilter(MaskPersonalData())
