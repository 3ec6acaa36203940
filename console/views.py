"""What an agent reads, in the agent's language: the transcript with machine translations clearly
labelled, the order, and the policy's decision trail explained."""
from __future__ import annotations

from typing import Any

from bot.engine import OrderSnapshot
from bot.explain import Explainer, recorded_result, revive
from bot.i18n import Money, format_value, render
from bot.language import is_supported
from bot.translation import TranslationUnavailable, Translator


def protected(order: OrderSnapshot | None) -> list[str]:
    """What translation must not touch beyond the patterns it knows: the names and address of the order."""
    a = order.shipping_address if order else None
    return [p for p in (a.name, a.line1, a.line2, a.city, a.region) if p] if a else []


def translated(text: str, source: str | None, target: str, translator: Translator,
               keep: list[str] = ()) -> dict[str, Any]:
    """The text and, when it is in another language, its translation or why there is none."""
    shown: dict[str, Any] = {"text": text, "language": source}
    if not text or not source or source == target or text.startswith("/"):
        return shown
    try:
        shown["translation"] = translator.translate(text, source, target, keep)
        shown["translation_label"] = render("console.translated", target)
    except TranslationUnavailable:
        shown["translation_label"] = render("console.not_translated", target)
    return shown


def transcript(tracker: dict[str, Any], agent_language: str, translator: Translator,
               keep: list[str] = ()) -> list[dict[str, Any]]:
    """The conversation from the tracker: shopper, bot and agent messages, oldest first."""
    language = (tracker.get("slots") or {}).get("language") or "en"
    lines, paused = [], False
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind in ("pause", "resume"):
            if paused == (kind == "pause"):
                continue  # already so: an agent's claim pauses a conversation the bot had paused
            paused = kind == "pause"
        if kind == "user":
            parse = event.get("parse_data") or {}
            source = parse.get("language") if parse.get("language_reliable") else None
            line = translated(event.get("text") or "", source or language, agent_language, translator, keep)
            line["from"] = "shopper"
            if line["text"].startswith("/"):
                line["payload"] = True  # a button pressed (or the widget opening): no words to translate
        elif kind == "bot":
            meta = event.get("metadata") or {}
            if meta.get("agent"):
                line = {"from": "agent", "agent": meta["agent"], "text": meta.get("original_text") or event.get("text"),
                        "sent": event.get("text"), "language": meta.get("original_language"),
                        "translated_for_shopper": meta.get("translated", False)}
            else:
                catalog_language = language if is_supported(language) else "en"
                line = translated(event.get("text") or "", catalog_language, agent_language, translator, keep)
                line["from"] = "bot"
                if (event.get("data") or {}).get("buttons"):
                    line["buttons"] = [b.get("title") for b in event["data"]["buttons"]]
        elif kind in ("pause", "resume"):
            line = {"from": "system", "text": kind}
        else:
            continue
        line["at"] = event.get("timestamp")
        lines.append(line)
    return lines


def order_view(order: OrderSnapshot | None, language: str) -> dict[str, Any] | None:
    if order is None:
        return None
    money = lambda amount: format_value(Money(amount, order.currency), language)  # noqa: E731
    explainer = Explainer(language, order)
    return {"number": order.number, "status": explainer.status(order.status), "total": money(order.total),
            "paid": money(order.paid), "refunded": money(order.refunded),
            "destination": order.destination_country, "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "delivered_at": format_value(order.delivered_at, language) if order.delivered_at else None,
            "address": explainer.address(order.shipping_address) if order.shipping_address else None,
            "items": [{"name": i.name, "sku": i.sku, "quantity": i.quantity, "returned": i.returned_quantity,
                       "unit_price": money(i.unit_price), "returnability": i.returnability} for i in order.items]}


def trace(events: list[dict[str, Any]], language: str, order: OrderSnapshot | None, case_number: str,
          zone: str | None = None) -> list[dict[str, Any]]:
    """Each decision on the case: the rule, its outcome and facts, and the explanation the shopper
    got, all in the agent's language; then what was carried out, and the agents' own steps."""
    steps: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        data = event.get("data") or {}
        step = {"at": event["at"], "actor": event["actor"], "kind": event["kind"], "rule_id": event.get("rule_id")}
        if event["kind"] == "decision":
            outcome = str(data.get("outcome"))
            step.update(policy_version=event.get("policy_version"), outcome=outcome,
                        outcome_label=render(f"outcome.{outcome}", language), request=data.get("request"),
                        facts={k: format_value(revive(v), language, zone) for k, v in (data.get("facts") or {}).items()
                               if v is not None and not isinstance(v, (dict, list))},
                        explanation=_explanation(events, index, language, order, case_number, zone))
        else:
            step["data"] = data
        steps.append(step)
    return steps


def _explanation(events, index, language, order, case_number, zone) -> list[str]:
    details: dict[str, Any] = {}
    for later in events[index + 1:]:
        if later["kind"] != "action":
            break
        details.update(later.get("data") or {})
    try:
        result = recorded_result({**events[index]["data"], "rule_id": events[index]["rule_id"]}, details, case_number)
        return [m.text for m in Explainer(language, order, zone).explain(result)]
    except (KeyError, ValueError, TypeError):
        return []  # an old record the current messages cannot fill: the rule and facts still show
