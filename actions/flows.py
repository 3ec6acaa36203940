"""The self-service flows: one Rasa form (`request_form`) whose questions change with the request
and the order, driven by `validate_request_form`; the decision is carried out at the end.

Each shopper message in the form is read here: an answer to the question asked, a correction
(another order number, another request), "no"/"bye" (stop, or pick another order), or something
for the rules to answer (a greeting, a person, a complaint), after which the form asks again.
Nothing about an order is said before the shopper is verified (bot/identity.py).
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import Reply, after_sales, carry_out, language_of, verifier
from bot.address import ADDRESS_FORMATS, Address, normalise_postcode, postcode_is_valid
from bot.config import fallback_threshold
from bot.engine import OrderSnapshot
from bot.explain import Button, Explainer
from bot.flows import (CANCEL_REASONS, FLOW_SLOTS, FREE_TEXT_SLOTS, REQUEST_OF_INTENT, Slots, build_request,
                       choose, choose_items, closest, claimable_items, looks_like_postcode, questions, resolutions,
                       return_reasons)
from bot.i18n import Country, Money
from bot.identity import orders_of
from bot.service import OrderNotFound, order_key

FORM = "request_form"
# How sure the understanding must be before a message is taken as something other than an answer
# (higher where the answer is the shopper's own words: a street name can look like anything).
SURE, SURE_FOR_FREE_TEXT = 0.6, 0.85
LIKELY = fallback_threshold()  # the bar any reading must clear to be taken at all
# Intents the rules answer in the middle of a form (data/rules.yml), after which the form asks again.
RULE_INTENTS = ("greet", "thank", "out_of_scope", "human_handoff", "complaint")
# A street, a city or a reason in the shopper's words lies outside the shopping vocabulary by nature
# ("Madrid" reads like "when does Madrid play"), so there it is an answer, never out of scope.
RULE_INTENTS_AMID_FREE_TEXT = set(RULE_INTENTS) - {"out_of_scope"}
YES_NO = {"affirm": True, "deny": False}
ORDERS_OFFERED = 5  # a verified customer's latest orders, as buttons
_REJECT = object()
closest("warm up", {"a": "a", "b": "b"})  # the encoder's first call is slow: pay it at start-up


def reset_request(kind: str | None) -> list[dict[str, Any]]:
    return [SlotSet("request", kind), SlotSet("requested_slot", None), *(SlotSet(s, None) for s in FLOW_SLOTS)]


class ActionStartRequest(Action):
    """A request intent: remember what the shopper wants, forget the answers of an earlier request."""

    def name(self) -> str:
        return "action_start_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        events = reset_request(REQUEST_OF_INTENT.get(intent))
        named = _entity(tracker, "order_number")
        if named and order_key(named) != order_key(tracker.get_slot("current_order") or ""):
            events.append(SlotSet("current_order", None))
        return events


class ValidateRequestForm(Action):
    """The form's turn: read the answer, verify, pick what to ask next, ask it."""

    def name(self) -> str:
        return f"validate_{FORM}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        turn = FormTurn(dispatcher, tracker)
        try:
            if turn.is_answer():
                if turn.read_answer() is _REJECT:
                    return []  # not an answer: the rules handle it, then the form asks again
            else:
                turn.read_first_message()
            turn.ask_next()
        except SQLAlchemyError:
            turn.reply.say("service_unavailable")
            turn.set(request=None)
            turn.events.append(SlotSet("requested_slot", None))
        return turn.reply.events + turn.events


class FormTurn:
    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker):
        self.tracker, self.reply = tracker, Reply(dispatcher, tracker)
        self.values = dict(tracker.slots)
        self.events: list[dict[str, Any]] = []
        message = tracker.latest_message or {}
        intent = message.get("intent") or {}
        self.intent, self.confidence = intent.get("name"), float(intent.get("confidence") or 0)
        self.text = (message.get("text") or "").strip()
        self._order: OrderSnapshot | None = None

    # -- slots --------------------------------------------------------------------------------------

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            self.values[name] = value
            self.events.append(SlotSet(name, value))

    @property
    def kind(self) -> str | None:
        return self.values.get("request")

    @property
    def asked(self) -> str | None:
        return self.values.get("requested_slot")

    def is_answer(self) -> bool:
        """True when the latest message answers the question the form asked (not when the form has
        just started, nor when it comes back after the rules answered something else)."""
        if not self.asked:
            return False
        for event in reversed(self.tracker.events):
            if event.get("event") == "user":
                return True
            if event.get("event") == "action_execution_rejected" or (
                    event.get("event") == "action" and event.get("name") not in (FORM, "action_listen")):
                return False
        return True

    # -- reading the answer ---------------------------------------------------------------------------

    def read_first_message(self) -> None:
        """The request itself may carry the proof: "cancel SH-10003, it's lucia@example.com"."""
        email = _entity(self.tracker, "email")
        if email and not self.values.get("current_order"):
            self.set(proof=email)

    def sure(self, intents, slot: str | None = None) -> bool:
        needed = SURE_FOR_FREE_TEXT if slot in FREE_TEXT_SLOTS else SURE
        return self.intent in intents and self.confidence >= needed

    def read_answer(self):
        slot = self.asked
        corrected = False
        named = _entity(self.tracker, "order_number")
        if named and order_key(named) != order_key(self.values.get("current_order") or ""):
            # "No, the other order: SH-10022": start over on that order.
            self.set(order_number=named, current_order=None, **{s: None for s in FLOW_SLOTS})
            if _entity(self.tracker, "email"):
                self.set(proof=_entity(self.tracker, "email"))
            corrected = True
        picked = None if corrected else self.picked(slot)
        if picked is not None:  # a button, a number or a choice's words: that is the answer ("refund please")
            self.set(**{slot: picked})
            return None
        new_kind = REQUEST_OF_INTENT.get(self.intent)
        if new_kind and new_kind != self.kind and self.sure(REQUEST_OF_INTENT, slot):
            self.set(request=new_kind, **{s: None for s in FLOW_SLOTS})  # they want something else now
            corrected = True
        if corrected:
            return None
        if slot == "confirmed":
            # A wrong no costs a question, a wrong yes an order: "no" is taken whenever it is a likely
            # reading ("actually please don't cancel it": cancel 0.52, no 0.48), "yes" only when it is first.
            likely_no = self.probability("deny") >= LIKELY and not self.sure(("affirm",))
            answer = "deny" if likely_no else self.intent if self.intent in YES_NO else None
            if answer and not self.sure(RULE_INTENTS):
                if self.kind == "change_address" and answer == "deny":
                    # "No" to the address read back: something in it is wrong, so take it again.
                    self.set(**{s: None for s in ("addr_line1", "addr_city", "addr_postcode", "addr_region")})
                else:
                    self.set(confirmed=YES_NO[answer])
                return None
        if self.sure(("deny",), slot) and slot != "confirmed":
            return self.another_order_or_stop()
        if self.sure(("goodbye",), slot):
            self.reply.say("goodbye")
            self.set(request=None)
            return None
        if self.sure(RULE_INTENTS_AMID_FREE_TEXT if slot in FREE_TEXT_SLOTS else RULE_INTENTS, slot):
            return _REJECT
        value = self.parse(slot)
        if value is None:
            self.reply.say("not_understood")
        self.set(**{slot: value})
        return None

    def probability(self, intent: str) -> float:
        ranking = (self.tracker.latest_message or {}).get("intent_ranking") or []
        return next((float(r.get("confidence") or 0) for r in ranking if r.get("name") == intent), 0.0)

    def another_order_or_stop(self):
        email = self.values.get("customer_email")
        if self.asked not in ("order_number", "proof") and email and len(orders_of(after_sales().db, email)) > 1:
            self.set(order_number=None, current_order=None, **{s: None for s in FLOW_SLOTS})
        else:
            self.reply.say("request_stopped")
            self.set(request=None)

    def picked(self, slot: str, by_meaning: bool = False) -> Any:
        """The choice the message makes among the ones offered (`by_meaning`: also in other words)."""
        text, choice = self.text[:200], _entity(self.tracker, "choice")
        if slot == "items":
            items = claimable_items(self.order())
            if choice == "all":
                return [i.id for i in items]
            if choice and choice.startswith("item:") and choice[5:].isdigit():
                return [int(choice[5:])] if int(choice[5:]) in {i.id for i in items} else None
            chosen = choose_items(text, items, language_of(self.tracker), self.reply.text("choice.all_items"))
            return list(chosen) if chosen else None
        options = {"cancel_reason": CANCEL_REASONS, "resolution": resolutions(self.kind),
                   "return_reason": return_reasons(after_sales().policy, self.kind == "item_problem")}.get(slot)
        if options is None:
            return None
        return choice if choice in options else choose(text, self.labels(slot, options), by_meaning)

    def parse(self, slot: str) -> Any:
        """The answer in the shopper's own words, or None when it is not one."""
        text = self.text[:200]
        if slot == "order_number":  # typed rather than pressed: "2" for the second order offered
            email = self.values.get("customer_email")
            own = orders_of(after_sales().db, email)[:ORDERS_OFFERED] if email else []
            return own[int(text) - 1] if text.isdigit() and 1 <= int(text) <= len(own) else None
        if slot == "proof":
            email = _entity(self.tracker, "email")
            return email or (text if looks_like_postcode(text) else None)
        if slot in ("addr_line1", "addr_city", "addr_region"):
            return text or None
        if slot == "addr_postcode":
            country = self.order().destination_country
            if postcode_is_valid(country, text):
                return normalise_postcode(country, text)
            self.reply.say("invalid_postcode", postcode=text, country=Country(country),
                           example=ADDRESS_FORMATS[country].postcode_example if country in ADDRESS_FORMATS else "")
            return None
        if slot in ("return_reason", "resolution", "cancel_reason"):
            meant = self.picked(slot, by_meaning=True)
            if meant is not None:
                return meant
        if slot == "cancel_reason":
            return text or None  # in their own words, recorded as written
        if slot == "return_reason" and self.kind == "item_problem":
            # A fault in their own words: the shop pays and decides alike for every fault reason.
            return "not_as_described"
        return None  # items, resolution: ask again

    def labels(self, slot: str, codes) -> dict[str, str]:
        return {code: self.reply.text(f"{slot}.{code}") for code in codes}

    # -- who is asking, and about which order ----------------------------------------------------------

    def order(self) -> OrderSnapshot:
        if self._order is None:
            self._order = after_sales().snapshot(self.values["current_order"])
        return self._order

    def identify(self) -> bool:
        """Settle which order this is about; True when it is known and the shopper may see it."""
        if self.values.get("current_order"):
            return True
        email, typed = self.values.get("customer_email"), self.values.get("order_number")
        own = orders_of(after_sales().db, email) if email else []
        if typed:
            canonical = next((o for o in own + list(self.values.get("verified_orders") or [])
                              if order_key(o) == order_key(typed)), None)
            if canonical:
                self.set(current_order=canonical, order_number=canonical)
                return True
            proof = self.values.get("proof")
            if not proof:
                self.ask("proof")
                return False
            result = verifier().verify(self.tracker.sender_id, typed, email=proof if "@" in proof else None,
                                       postcode=None if "@" in proof else proof)
            self.set(proof=None)
            if result.ok:
                verified = [*(self.values.get("verified_orders") or []), result.order_number]
                self.set(current_order=result.order_number, order_number=result.order_number,
                         verified_orders=verified)
                if "@" in proof:
                    self.set(customer_email=result.customer_email)
                return True
            if result.locked_until:
                self.reply.say("verification_locked", locked_until=result.locked_until)
                self.set(request=None, order_number=None)
                self.events.append(SlotSet("requested_slot", None))
                return False
            self.reply.say("verification_failed")  # it asks again: no second question
            self.events.append(SlotSet("requested_slot", "proof"))
            return False
        if len(own) == 1:
            self.set(current_order=own[0], order_number=own[0])
            return True
        self.ask("order_number", own)
        return False

    # -- asking ----------------------------------------------------------------------------------------

    def ask_next(self) -> None:
        if not self.kind:
            self.events.append(SlotSet("requested_slot", None))
            return
        try:
            if not self.identify():
                return
            order = self.order()
        except OrderNotFound:  # the order went away after verification
            self.set(current_order=None, order_number=None)
            self.reply.say("verification_failed")
            self.ask("order_number")
            return
        slots = Slots.of(self.values)
        policy = after_sales().policy
        for slot in questions(self.kind, order, policy, after_sales().clock()):
            if getattr(slots, slot) is None:
                self.ask(slot)
                return
        self.events.append(SlotSet("requested_slot", None))

    def ask(self, slot: str, own_orders: list[str] | None = None) -> None:
        self.events.append(SlotSet("requested_slot", slot))
        say, kind = self.reply.say, self.kind
        if slot == "order_number":
            if own_orders:
                buttons = [Button(self.order_choice(n), n) for n in own_orders[:ORDERS_OFFERED]]
                say("ask_order_pick", buttons)
            else:
                say("ask_order_number")
        elif slot == "proof":
            say("ask_proof")
        elif slot == "cancel_reason":
            say("ask_cancel_reason", self.choice_buttons("cancel_reason", CANCEL_REASONS))
        elif slot == "confirmed":
            buttons = [Button(self.reply.text("choice.yes"), "/affirm"), Button(self.reply.text("choice.no"), "/deny")]
            order = self.order()
            if kind == "cancel":
                say("ask_confirm_cancel", buttons, order_number=order.number, total=_money(order))
            else:
                say("ask_confirm_address", buttons, order_number=order.number,
                    address=Explainer(self.reply.catalog_language, order).address(self.new_address()))
        elif slot in ("addr_line1", "addr_postcode", "addr_city", "addr_region"):
            country = self.order().destination_country
            fmt = ADDRESS_FORMATS.get(country)
            say(f"ask_{slot}", country=Country(country), example=fmt.postcode_example if fmt else "")
        elif slot == "items":
            items = claimable_items(self.order())
            lines = "\n".join(self.reply.text("item_line", n=n, name=i.name, quantity=i.returnable_quantity)
                              for n, i in enumerate(items, start=1))
            buttons = [Button(i.name, f'/inform{{"choice":"item:{i.id}"}}') for i in items]
            buttons.append(Button(self.reply.text("choice.all_items"), '/inform{"choice":"all"}'))
            say("ask_items_problem" if kind == "item_problem" else "ask_items_return", buttons, items=lines)
        elif slot == "return_reason":
            fault = kind == "item_problem"
            say("ask_problem_kind" if fault else "ask_return_reason",
                self.choice_buttons("return_reason", return_reasons(after_sales().policy, fault)))
        elif slot == "resolution":
            say("ask_resolution_problem" if kind == "item_problem" else "ask_resolution_return",
                self.choice_buttons("resolution", resolutions(kind)))

    def choice_buttons(self, prefix: str, codes) -> list[Button]:
        return [Button(label, f'/inform{{"choice":"{code}"}}') for code, label in self.labels(prefix, codes).items()]

    def order_choice(self, number: str) -> str:
        order = after_sales().snapshot(number)
        return self.reply.text("order_choice", order_number=number, placed_on=order.placed_at.date(),
                               status=self.reply.text(f"status.{order.status}"))

    def new_address(self) -> Address:
        return build_request("change_address", Slots.of(self.values), self.order(), after_sales().policy).address


class ActionCarryOutRequest(Action):
    """The form is complete: decide, carry the decision out, explain it."""

    def name(self) -> str:
        return "action_carry_out_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        reply, kind, number = Reply(dispatcher, tracker), tracker.get_slot("request"), tracker.get_slot("current_order")
        events = reset_request(None)
        if not kind or not number:
            return reply.events + events  # stopped, or verification locked: already said
        slots = Slots.of(tracker.slots)
        if slots.confirmed is False:
            reply.say("cancel_kept", order_number=number)
            return reply.events + events
        policy = after_sales().policy
        events += carry_out(reply, tracker, number, lambda order: build_request(kind, slots, order, policy))
        return reply.events + events

def _entity(tracker: Tracker, name: str) -> str | None:
    return next((e.get("value") for e in (tracker.latest_message or {}).get("entities", [])
                 if e.get("entity") == name and e.get("value")), None)


def _money(order: OrderSnapshot) -> Money:
    return Money(order.total, order.currency)
