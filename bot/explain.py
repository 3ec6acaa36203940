"""Explaining a decision to the shopper: from the policy decision (rule id, reason, facts) to
messages in their language, with the dates, amounts and windows the rule used.

Every rule id has a message `decision.<rule id>` in bot/locales; some rules add more (who pays
return shipping, how to send it back, what happens next, the latest tracking scans). What the
shopper can do next (`Decision.offers`) becomes buttons. Pure: no database, no Rasa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytz
from babel import Locale
from babel.lists import format_list

from bot.address import Address
from bot.engine import Action, Decision, OrderSnapshot, Outcome
from bot.i18n import Country, Money, catalog, format_value, render
from bot.service import Result

# Facts that are deadlines or days: shown as a date, without the hour.
_AS_DATE = {"promised_delivery_date", "delivered_at", "last_scan_at", "investigation_deadline", "refund_due_at",
            "issued_at", "last_return_day"}
# Facts that are amounts in the order's currency.
_AS_MONEY = {"refund_amount", "items_value"}
_SCANS_SHOWN = 3
# What a shopper can do next -> the message a button sends (Rasa's "/intent" shortcut).
OFFER_PAYLOADS = {"agent": "/human_handoff", "return_flow": "/return_item", "cancel_flow": "/cancel_order"}


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Message:
    text: str
    buttons: tuple[Button, ...] = ()


# Where a country has several time zones, the one most of its people live in (tz lists an outlying one first).
_MAIN_ZONE = {"RU": "Europe/Moscow", "BR": "America/Sao_Paulo", "CA": "America/Toronto", "AU": "Australia/Sydney",
              "US": "America/New_York", "MX": "America/Mexico_City", "KZ": "Asia/Almaty", "ID": "Asia/Jakarta"}


def zone_of(country: str | None) -> str | None:
    """The destination's main time zone, so deadlines read in the shopper's local time."""
    if country in _MAIN_ZONE:
        return _MAIN_ZONE[country]
    zones = pytz.country_timezones.get(country or "", [])
    return zones[0] if zones else None


class Explainer:
    """Renders one decision in one language (a catalog language: unsupported ones get English)."""

    def __init__(self, language: str, order: OrderSnapshot | None, zone: str | None = None):
        """Times are shown in the destination's zone, else in `zone` (else UTC)."""
        self.language = language if catalog(language) else "en"
        self.order = order
        self.zone = (zone_of(order.destination_country) if order else None) or zone

    def say(self, key: str, **params: Any) -> str:
        return render(key, self.language, self.zone, **params)

    def list_of(self, words: list[str], style: str = "standard") -> str:
        return format_list(words, style=style, locale=Locale.parse(self.language)) if words else ""

    def sentences(self, parts: list[str]) -> str:
        # Chinese and Japanese sentences end in 。 and run on without a space.
        return ("" if self.language in ("ja", "zh") else " ").join(parts)

    def status(self, status: str) -> str:
        return self.say(f"status.{status}")

    def address(self, address: Address | dict) -> str:
        a = address if isinstance(address, Address) else Address(**address)
        lines = [a.name, a.line1, a.line2, " ".join(filter(None, (a.postcode, a.city))), a.region,
                 format_value(Country(a.country), self.language)]
        return "\n".join(line for line in lines if line)

    def scans(self) -> str | None:
        scans = self.order.scans[-_SCANS_SHOWN:] if self.order else ()
        if not scans:
            return None
        lines = [self.say("scan_line", at=s.at, event=self.say(f"scan.{s.code}"), location=s.location or "")
                 for s in reversed(scans)]
        return self.say("latest_scans", scans="\n".join(lines))

    def duties(self, facts: dict[str, Any]) -> str:
        country = Country(facts["destination"])
        parts = [self.say(f"duties.{facts['duties']}", country=country)]
        if facts["duties"] == "DDU":
            if facts.get("import_tax_rate_percent") is not None:
                parts.append(self.say("duties.rate", rate=facts["import_tax_rate_percent"]))
            if facts.get("duty_free_threshold") is not None:
                parts.append(self.say("duties.threshold",
                                      threshold=Money(facts["duty_free_threshold"], facts["base_currency"])))
        return self.sentences(parts)

    def params(self, result: Result) -> dict[str, Any]:
        """The decision's facts as the messages show them."""
        facts, order = result.decision.facts, self.order
        currency = facts.get("currency") or (order.currency if order else None)
        shown: dict[str, Any] = {}
        for name, value in facts.items():
            if value is None:
                continue
            if name in _AS_DATE and isinstance(value, datetime):
                value = value.astimezone(pytz.timezone(self.zone)).date() if self.zone else value.date()
            elif name in _AS_MONEY and currency:
                value = Money(Decimal(value), currency)
            shown[name] = value
        shown.update(case_number=result.case_number, rma_number=result.rma_number,
                     agent_due_at=result.details.get("agent_due_at", facts.get("agent_due_at")))
        if order:
            shown.update(status=self.status(order.status), country=Country(order.destination_country),
                         total=Money(order.total, order.currency), order_number=order.number)
            if order.carrier:
                shown.setdefault("carrier", order.carrier)
        return shown

    def explain(self, result: Result) -> list[Message]:
        d: Decision = result.decision
        p = self.params(result)
        texts: list[str] = []
        key = d.message_key
        if d.rule_id == "cancel.before_shipment" and not d.facts.get("refund_amount"):
            key = "decision.cancel.before_shipment_unpaid"
        if d.rule_id == "address.before_shipment":
            p["new_address"] = self.address(d.facts["new_address"])
        if d.rule_id == "return.not_returnable":
            p["items"] = self.list_of([i["name"] for i in d.facts["excluded_items"]])
        if d.rule_id.startswith("handoff."):
            key = "handoff_created"
        texts.append(self.say(key, **p))

        if d.rule_id in ("track.held_at_customs", "customs.held"):
            texts.append(self.duties(d.facts))
        elif d.rule_id.startswith("customs.terms_"):
            texts = [self.sentences([self.duties(d.facts), *texts])]
        if (d.rule_id.startswith("return.") or d.rule_id == "override.return") and result.rma_number:
            texts.extend(self.return_steps(d.facts, p))
        if d.rule_id.startswith("track.") and d.rule_id not in ("track.not_shipped", "track.closed"):
            scans = self.scans()
            if scans:
                texts.append(scans)

        # Already with a person: no button to ask for one.
        offers = [o for o in d.offers if o in OFFER_PAYLOADS and not (o == "agent" and d.action("escalate"))]
        buttons = tuple(Button(self.say(f"offer.{o}"), OFFER_PAYLOADS[o]) for o in offers)
        messages = [Message(t) for t in texts]
        if buttons:
            messages[-1] = Message(messages[-1].text, buttons)
        return messages

    def return_steps(self, facts: dict[str, Any], p: dict[str, Any]) -> list[str]:
        """Who pays return shipping, how to send it back, and what happens then."""
        lines = []
        for condition in facts.get("conditions", []):
            items = facts["sealed_only_items"] if condition == "hygiene_sealed" else [
                i["name"] for i in facts["excluded_items"]]
            lines.append(self.say(f"return_condition.{condition}", items=self.list_of(items)))
        if facts.get("exchange_in_stock") is False or facts.get("replacement_in_stock") is False:
            lines.append(self.say("exchange_out_of_stock"))
        if not facts.get("seller_fault"):
            lines.append(self.say(f"return_shipping.{facts['shipping_paid_by']}"))
        methods = self.list_of([self.say(f"method.{m}") for m in facts["return_methods"]], style="or")
        lines.append(self.say("return_methods", methods=methods))
        lines.append(self.say(f"return_next.{facts['resolution']}", rma_number=p["rma_number"],
                              refund_deadline_days=facts["refund_deadline_days"]))
        return [self.sentences(lines)]


_ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def revive(value: Any) -> Any:
    """A fact as it was before it was stored as JSON (dates and times come back as such)."""
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)
    return value


def recorded_result(decision: dict[str, Any], details: dict[str, Any], case_number: str | None) -> Result:
    """A decision from a case's event trail (and what carrying it out created), to explain it again:
    for an agent, what the bot told the shopper, in the agent's language."""
    facts = {k: revive(v) for k, v in (decision.get("facts") or {}).items()}
    revived = Decision(request=decision["request"], outcome=Outcome(decision["outcome"]),
                       rule_id=decision.get("rule_id", ""), reason=decision.get("reason", ""), facts=facts,
                       actions=tuple(Action(a["kind"], a.get("params", {})) for a in decision.get("actions", [])),
                       offers=tuple(decision.get("offers", ())))
    details = {k: revive(v) for k, v in details.items()}
    return Result(revived, case_number=case_number, rma_number=details.get("rma_number"), details=details)
