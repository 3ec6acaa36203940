"""Machine translation behind one small interface, with what must not be translated masked.

The backend is chosen by configuration (TRANSLATION_BACKEND): google (default), deepl, libre
(with TRANSLATION_BASE_URL, e.g. a self-hosted LibreTranslate), or none. All go through
deep-translator. Order numbers, tracking numbers, e-mails, phone numbers, amounts and postcodes
are replaced by placeholders before translation and restored after, so translation cannot
corrupt them. A service that is down or slow raises TranslationUnavailable after a timeout:
callers decide what to show instead (nothing ever blocks on it). After a failure the service is
left alone for TRANSLATION_RETRY_SECONDS (default 30), so a console refreshing every few seconds
does not wait on a dead service each time. Given a database, translations are cached there.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from bot.db import Database

# What translation must leave untouched, most specific first.
_PROTECTED = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail
    r"|https?://\S+"
    r"|\+?\d[\d ().-]{6,}\d"  # phone numbers, long digit groups
    r"|#?[A-Za-z]{0,4}-?\d[\w-]*(?:[.,]\d+)?"  # order/tracking numbers, postcodes, amounts
    r"|[€$£¥₩₺₽]\s?\d[\d.,]*"  # amounts with a leading currency sign
)
_PLACEHOLDER = "⟦{}⟧"
_PLACEHOLDER_BACK = re.compile(r"⟦\s*(\d+)\s*⟧")


class TranslationUnavailable(RuntimeError):
    """The translation service could not be reached or answered nothing usable."""


def mask(text: str, keep: Sequence[str] = ()) -> tuple[str, list[str]]:
    """Placeholders for what must come back unchanged: the patterns above, and the literal `keep`
    strings (e.g. the order's address lines and the shopper's name, which no pattern can know)."""
    kept: list[str] = []

    def hold(match: re.Match) -> str:
        kept.append(match.group())
        return _PLACEHOLDER.format(len(kept) - 1)

    literals = sorted({k.strip() for k in keep if k and len(k.strip()) > 2}, key=len, reverse=True)
    if literals:
        text = re.sub("|".join(re.escape(k) for k in literals), hold, text, flags=re.IGNORECASE)
    # Placeholders already in the text are not matched again (they hold no letters or digits to take).
    parts = re.split(r"(⟦\d+⟧)", text)
    return "".join(p if _PLACEHOLDER_BACK.fullmatch(p) else _PROTECTED.sub(hold, p) for p in parts), kept


def unmask(text: str, kept: list[str]) -> str:
    restored = _PLACEHOLDER_BACK.sub(lambda m: kept[int(m.group(1))] if int(m.group(1)) < len(kept) else "", text)
    missing = [k for k in kept if k not in restored]
    if missing:
        # The service dropped a placeholder: never lose an order number, append what went missing.
        restored = f"{restored} ({', '.join(missing)})"
    return restored


@dataclass(frozen=True)
class TranslatorConfig:
    backend: str = "google"  # google, deepl, libre, none
    base_url: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 4.0
    retry_seconds: float = 30.0  # after a failure, how long the service is not asked again

    @classmethod
    def from_env(cls) -> "TranslatorConfig":
        return cls(backend=os.environ.get("TRANSLATION_BACKEND", "google").lower(),
                   base_url=os.environ.get("TRANSLATION_BASE_URL") or None,
                   api_key=os.environ.get("TRANSLATION_API_KEY") or None,
                   timeout_seconds=float(os.environ.get("TRANSLATION_TIMEOUT", "4")),
                   retry_seconds=float(os.environ.get("TRANSLATION_RETRY_SECONDS", "30")))


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="translate")


class Translator:
    """translate(text, source, target) through the configured backend; TranslationUnavailable on failure."""

    def __init__(self, config: TranslatorConfig | None = None, db: "Database | None" = None):
        self.config = config or TranslatorConfig.from_env()
        self.db = db
        self._down_until = 0.0

    @property
    def enabled(self) -> bool:
        return self.config.backend != "none"

    def _backend(self, source: str, target: str) -> Callable[[str], str]:
        import deep_translator as dt

        c = self.config
        if c.backend == "google":
            return dt.GoogleTranslator(source=source, target=target).translate
        if c.backend == "deepl":
            return dt.DeeplTranslator(api_key=c.api_key, source=source, target=target, use_free_api=True).translate
        if c.backend == "libre":
            if not c.base_url:
                raise TranslationUnavailable("TRANSLATION_BASE_URL is not set for the libre backend")
            libre = dt.LibreTranslator(source="en", target="es", api_key=c.api_key or "-",
                                       custom_url=c.base_url.rstrip("/") + "/")
            # deep-translator's built-in list of Libre languages is years old (no Swedish, Dutch...):
            # pass the codes through and let the server say what it supports.
            libre._source, libre._target = source, target
            return libre.translate
        raise TranslationUnavailable(f"unknown translation backend {c.backend!r}")

    def translate(self, text: str, source: str, target: str, keep: Sequence[str] = ()) -> str:
        if source == target or not text.strip():
            return text
        if not self.enabled:
            raise TranslationUnavailable("translation is switched off (TRANSLATION_BACKEND=none)")
        key = self._key(text, source, target, keep)
        cached = self._cached(key)
        if cached is not None:
            return cached
        if time.monotonic() < self._down_until:
            raise TranslationUnavailable("the service failed moments ago; not asked again yet")
        try:
            translated = self._ask(text, source, target, keep)
        except TranslationUnavailable:
            self._down_until = time.monotonic() + self.config.retry_seconds
            raise
        self._store(key, translated)
        return translated

    def _ask(self, text: str, source: str, target: str, keep: Sequence[str]) -> str:
        masked, kept = mask(text, keep)
        try:
            call = self._backend(source, target)
            result = _pool.submit(call, masked).result(timeout=self.config.timeout_seconds)
        except FutureTimeout:
            raise TranslationUnavailable(f"no answer within {self.config.timeout_seconds} s") from None
        except TranslationUnavailable:
            raise
        except Exception as exc:  # deep-translator raises many kinds: all mean "not available now"
            raise TranslationUnavailable(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(result, str) or not result.strip():
            raise TranslationUnavailable("the service returned no text")
        return unmask(result, kept)

    # -- the cache ----------------------------------------------------------------------------------

    def _key(self, text: str, source: str, target: str, keep: Sequence[str]) -> dict:
        kept = "\x00".join(sorted(set(keep)))  # what was protected shapes the result too
        return {"text_hash": hashlib.sha256(f"{text}\x01{kept}".encode()).hexdigest(), "source": source,
                "target": target, "backend": self.config.backend}

    def _cached(self, key: dict) -> str | None:
        if self.db is None:
            return None
        from sqlalchemy import select

        from bot.models import Translation
        with self.db.transaction() as session:
            return session.execute(select(Translation.translated).filter_by(**key)).scalar_one_or_none()

    def _store(self, key: dict, translated: str) -> None:
        if self.db is None:
            return
        from sqlalchemy.exc import IntegrityError

        from bot.models import Translation
        try:
            with self.db.transaction() as session:
                session.add(Translation(**key, translated=translated))
        except IntegrityError:
            pass  # another process cached the same text at the same moment
