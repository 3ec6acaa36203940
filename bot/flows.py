"""The self-service flows as data and pure functions: which requests there are, what each still
needs to ask, how answers are read, and the engine request they become. No Rasa, no database:
actions/flows.py feeds these from the conversation's slots and the order's snapshot.

What to ask is decided by asking the policy engine first ("preview"): a shipped order is not
asked to confirm a cancellation it cannot have, a delivered order is not asked for a new address.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.address import ADDRESS_FORMATS, Address
from bot.encoder import embed
from bot.engine import (Cancel, ChangeAddress, Customs, ItemSnapshot, OrderSnapshot, RefundStatus, Request,
                        ReturnItems, Track, decide)
from bot.policy import Policy

# Intent -> request kind; the request kinds a form handles.
REQUEST_OF_INTENT = {"track_order": "track", "cancel_order": "cancel", "change_address": "change_address",
                     "return_item": "return", "item_problem": "item_problem", "refund_status": "refund_status",
                     "customs_duties": "customs"}
# Slots a request collects after the order is known; cleared when a new request starts.
FLOW_SLOTS = ("cancel_reason", "confirmed", "addr_line1", "addr_city", "addr_postcode", "addr_region", "items",
              "return_reason", "resolution")
# Slots whose answer is the shopper's own words.
FREE_TEXT_SLOTS = ("cancel_reason", "addr_line1", "addr_city", "addr_region")
# Why shoppers cancel (recorded on the order for the seller's analysis); free text is kept as typed.
CANCEL_REASONS = ("changed_mind", "found_cheaper", "ordered_by_mistake", "delivery_too_slow")


@dataclass(frozen=True)
class Slots:
    """The answers collected so far (None: not asked or not answered yet)."""

    cancel_reason: str | None = None
    confirmed: bool | None = None
    addr_line1: str | None = None
    addr_city: str | None = None
    addr_postcode: str | None = None
    addr_region: str | None = None
    items: tuple[int, ...] | None = None
    return_reason: str | None = None
    resolution: str | None = None

    @classmethod
    def of(cls, values: dict) -> "Slots":
        items = values.get("items")
        return cls(**{**{k: values.get(k) for k in FLOW_SLOTS}, "items": tuple(int(i) for i in items) if items else None})


def claimable_items(order: OrderSnapshot) -> list[ItemSnapshot]:
    """Items the shopper can still return or report (not already returned or refunded)."""
    return [i for i in order.items if i.returnable_quantity > 0]


def return_reasons(policy: Policy, fault: bool) -> list[str]:
    return [r for r in policy.return_reasons if (r in policy.seller_fault_reasons) == fault]


def needs_region(country: str) -> bool:
    fmt = ADDRESS_FORMATS.get(country)
    return bool(fmt and fmt.region_required)


def questions(kind: str, order: OrderSnapshot, policy: Policy, now: datetime) -> list[str]:
    """The slots `kind` asks for on this order, in order (some may already be answered)."""
    if kind == "cancel":
        preview = decide(order, Cancel(reason="(asking)"), now, policy).rule_id
        return {"cancel.before_shipment": ["cancel_reason", "confirmed"],
                "cancel.after_shipment": ["cancel_reason"]}.get(preview, [])
    if kind == "change_address":
        current = order.shipping_address
        preview = decide(order, ChangeAddress(current), now, policy).rule_id if current else "address.invalid"
        if preview not in ("address.before_shipment", "address.intercept_and_reship", "address.invalid"):
            return []
        region = ["addr_region"] if needs_region(order.destination_country) else []
        return ["addr_line1", "addr_city", "addr_postcode", *region, "confirmed"]
    if kind in ("return", "item_problem"):
        fault = kind == "item_problem"
        items = claimable_items(order)
        if not items:
            return []
        reason = return_reasons(policy, fault)[0]
        preview = decide(order, ReturnItems(tuple((i.id, i.returnable_quantity) for i in items), reason),
                         now, policy).rule_id
        asks = ["items"] if len(items) > 1 else []
        if preview in ("return.within_window", "return.within_statutory_withdrawal",
                       "return.fault_keep_it", "return.fault_return"):
            return [*asks, "return_reason", "resolution"]
        if preview == "return.fault_outside_window":
            return [*asks, "return_reason"]  # an agent decides: no resolution to promise
        return []
    return []


def build_request(kind: str, slots: Slots, order: OrderSnapshot, policy: Policy) -> Request:
    """The engine request for a finished flow."""
    if kind == "track":
        return Track()
    if kind == "refund_status":
        return RefundStatus()
    if kind == "customs":
        return Customs()
    if kind == "cancel":
        return Cancel(reason=slots.cancel_reason or "not_given")
    if kind == "change_address":
        current = order.shipping_address
        if slots.addr_line1 is None:  # nothing asked (too late, or too valuable): decide on the order as it is
            return ChangeAddress(current)
        return ChangeAddress(Address(name=current.name, line1=slots.addr_line1 or "", city=slots.addr_city or "",
                                     country=order.destination_country, postcode=slots.addr_postcode,
                                     region=slots.addr_region, phone=current.phone))
    if kind in ("return", "item_problem"):
        candidates = claimable_items(order)
        chosen = [i for i in candidates if slots.items is None or i.id in slots.items] or candidates
        reason = slots.return_reason or return_reasons(policy, kind == "item_problem")[0]
        resolution = "exchange" if slots.resolution in ("exchange", "replacement") else "refund"
        return ReturnItems(tuple((i.id, i.returnable_quantity) for i in chosen), reason, resolution)
    raise ValueError(f"unknown request {kind!r}")


def resolutions(kind: str) -> list[str]:
    return ["refund", "replacement"] if kind == "item_problem" else ["refund", "exchange"]


# ---- reading answers -------------------------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how typed answers are compared with choices."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("'", "").replace("\u2019", ""))
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c
                   for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def choose(text: str, choices: dict[str, str], by_meaning: bool = False) -> str | None:
    """Which of `choices` (code -> label shown) the shopper picked: by number, label or code, and
    `by_meaning` also in other words."""
    answer = fold(text)
    if not answer:
        return None
    codes = list(choices)
    if answer.isdigit() and 1 <= int(answer) <= len(codes):
        return codes[int(answer) - 1]
    for code, label in choices.items():
        if answer in (fold(label), fold(code)):
            return code
    contained = [code for code, label in choices.items() if len(fold(label)) >= 4 and fold(label) in answer]
    if len(contained) == 1:
        return contained[0]
    partial = [code for code, label in choices.items() if len(answer) >= 5 and answer in fold(label)]
    if len(partial) == 1:  # "doesn't fit" for "It doesn't fit"
        return partial[0]
    return closest(text, choices) if by_meaning else None


# In other words ("it's too small" for "It doesn't fit", "zu klein", "es muy pequeño"): the choice
# nearest in meaning, by the multilingual sentence encoder the NLU pipeline uses, when it is clearly
# nearer than the others. Measured on hand-written paraphrases: right or abstaining.
NEAR_ENOUGH, CLEAR_MARGIN = 0.3, 0.1


def closest(text: str, choices: dict[str, str]) -> str | None:
    vectors = embed([text, *choices.values()])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = vectors[1:] @ vectors[0]
    ranked = np.argsort(-scores)
    best = scores[ranked[0]]
    runner_up = scores[ranked[1]] if len(ranked) > 1 else -1.0
    return list(choices)[ranked[0]] if best >= NEAR_ENOUGH and best - runner_up >= CLEAR_MARGIN else None


_NUMBERS = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")


def choose_items(text: str, items: list[ItemSnapshot], language: str, all_label: str) -> tuple[int, ...] | None:
    """Which items the shopper means: numbers from the list ("1 and 3"), "all", or item names."""
    answer = fold(text)
    if mentions_all(text, language, all_label):
        return tuple(i.id for i in items)
    numbers = {int(n) for n in _NUMBERS.findall(answer)}
    if numbers and all(1 <= n <= len(items) for n in numbers):
        return tuple(items[n - 1].id for n in sorted(numbers))
    named = [i.id for i in items if _names(i.name, answer)]
    return tuple(named) or None


def _names(name: str, answer: str) -> bool:
    """The answer names the item: a distinctive word of its name (4+ letters) appears in it."""
    words = [w for w in re.findall(r"\w+", fold(name)) if len(w) >= 4]
    return any(w in answer for w in words)


def looks_like_postcode(text: str) -> bool:
    compact = text.strip()
    return 3 <= len(compact) <= 10 and any(c.isdigit() for c in compact) and "@" not in compact


# Words for "all of them" at the item question (the button label works too).
ALL_WORDS = {"en": ["all", "both", "everything"], "es": ["todos", "todas", "ambos", "los dos", "las dos", "todo"],
             "fr": ["tous", "toutes", "les deux", "tout"], "de": ["alle", "beide", "alles"],
             "it": ["tutti", "tutte", "entrambi", "tutto"], "pt": ["todos", "todas", "ambos", "os dois", "as duas", "tudo"],
             "nl": ["alle", "allebei", "beide", "alles"], "pl": ["wszystkie", "oba", "obie", "wszystko"],
             "ru": ["все", "оба", "обе", "всё"], "tr": ["hepsi", "hepsini", "tümü", "ikisi de", "ikisini de"],
             "ar": ["الكل", "كلها", "كلهم", "الاثنين", "الجميع"], "ja": ["全部", "すべて", "全て", "両方"],
             "ko": ["전부", "모두", "둘 다"], "zh": ["全部", "所有", "两个都", "都要"]}

# A complaint that threatens a chargeback, a lawyer, a court or a consumer agency is urgent.
LEGAL_THREAT = re.compile("|".join([
    r"\blawyers?\b", r"\battorney", r"\bsolicitor", r"\bsue\b", r"\bcourt\b", r"charge ?back", r"consumer (protection|rights)",
    r"trading standards", r"\bbbb\b", r"paypal (claim|dispute)", r"abogad", r"demanda", r"denuncia", r"\bocu\b",
    r"profeco", r"contracargo", r"avocat", r"tribunal", r"litige", r"r[ée]trofacturation", r"anwalt", r"klage",
    r"verbraucherzentrale", r"gericht", r"r[üu]ckbuchung", r"avvocat", r"tribunale", r"advogad", r"procon",
    r"processar", r"advocaat", r"rechter", r"consumentenbond", r"geschillencommissie", r"prawnik", r"s[ąa]d",
    r"pozew", r"uokik", r"rzecznik", r"адвокат", r"юрист", r"\bсуд", r"роспотребнадзор", r"avukat", r"mahkeme",
    r"t[üu]ketici hakem", r"\bdava\b", r"محام", r"محكمة", r"حماية المستهلك", r"弁護士", r"裁判", r"消費者センター",
    r"변호사", r"소송", r"소비자원", r"律师", r"起诉", r"法院", r"消协", r"12315"]), re.IGNORECASE)


def mentions_all(text: str, language: str, label: str) -> bool:
    answer = fold(text)
    for word in [label, *ALL_WORDS.get(language, []), *ALL_WORDS["en"]]:
        w = fold(word)
        # Whole words where words are spaced and uninflected ("all" is not in "small"); elsewhere a
        # particle or suffix may touch the word ("둘 다요", "hepsini").
        if w and (re.search(rf"(?<!\w){re.escape(w)}(?!\w)", answer) if w.isascii() else w in answer):
            return True
    return False
