"""Every self-service flow end to end: real Rasa and action servers, the REST channel, a fresh demo
shop per language. Each test asserts the replies (in the conversation's language, from its
catalog) and what the database holds afterwards (order, refund, return, case and its trail).

Every flow runs in en, es, de, zh and ar; verify + track + cancel runs in all 14 languages.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.db import Database
from bot.i18n import catalog
from bot.identity import sign_customer_token
from bot.language import SUPPORTED
from bot.models import Case, CaseStatus, Order, Refund, Return, Shipment, utcnow
from tests.servers import RasaStack, demo_shop

FULL = ("en", "es", "de", "zh", "ar")
in_five_languages = pytest.mark.parametrize("shop", FULL, indirect=True)
in_every_language = pytest.mark.parametrize("shop", FULL + tuple(sorted(set(SUPPORTED) - set(FULL))), indirect=True)
TOKEN_SECRET = "test-storefront-secret"

# What shoppers write, the way they write it.
SAY = {
    "en": {"track": "where is my parcel?", "cancel": "I want to cancel my order", "address": "I need to change the delivery address",
           "return": "I'd like to return something", "problem": "my phone case arrived broken", "refund": "where is my refund?",
           "customs": "do I have to pay import duties?", "complaint": "this is the worst service ever, I'm really angry",
           "handoff": "can I talk to a real person please", "yes": "yes", "no": "no", "cheaper": "found it cheaper somewhere else",
           "street": "221 Baker Street, flat 2", "city": "London", "keep": "actually please don't cancel it",
           "dont_want": "nah i don't wanna cancel it"},
    "es": {"track": "¿dónde está mi paquete?", "cancel": "quiero cancelar mi pedido", "address": "necesito cambiar la dirección de entrega",
           "return": "quiero devolver una cosa", "problem": "me llegó la funda del móvil rota", "refund": "¿dónde está mi reembolso?",
           "customs": "¿tengo que pagar aduana?", "complaint": "es una vergüenza, pésimo servicio, estoy harta",
           "handoff": "quiero hablar con una persona", "yes": "sí", "no": "no", "cheaper": "lo vi más barato en otra web",
           "street": "Calle Mayor 12, 2º A", "city": "Madrid", "keep": "mejor no lo canceles", "dont_want": "no, no quiero cancelarlo"},
    "de": {"track": "wo ist mein Paket?", "cancel": "ich möchte meine Bestellung stornieren", "address": "ich muss die Lieferadresse ändern",
           "return": "ich möchte etwas zurückschicken", "problem": "die Handyhülle kam kaputt an", "refund": "wo bleibt meine Rückerstattung?",
           "customs": "muss ich Zoll zahlen?", "complaint": "unverschämt, so einen miesen Service hab ich noch nie erlebt",
           "handoff": "ich möchte mit einem Mitarbeiter sprechen", "yes": "ja", "no": "nein", "cheaper": "hab's woanders günstiger gefunden",
           "street": "Kastanienallee 7", "city": "Berlin", "keep": "doch nicht stornieren bitte",
           "dont_want": "nee, will ich doch nicht stornieren"},
    "zh": {"track": "我的快递到哪了？", "cancel": "我想取消订单", "address": "我要改收货地址", "return": "我想退货",
           "problem": "手机壳收到就是坏的", "refund": "我的退款什么时候到账？", "customs": "要交关税吗？",
           "complaint": "你们服务太差了，气死我了", "handoff": "转人工", "yes": "是的", "no": "不要", "cheaper": "别家更便宜",
           "street": "淮海中路999号5楼", "city": "上海市", "keep": "算了，先别取消", "dont_want": "我不想取消了"},
    "ar": {"track": "وين شحنتي؟", "cancel": "أبغى ألغي طلبي", "address": "أريد تغيير عنوان التوصيل", "return": "أبي أرجع منتج",
           "problem": "كفر الجوال وصلني مكسور", "refund": "متى يرجع لي المبلغ؟ وين الاسترداد؟", "customs": "هل لازم أدفع جمارك؟",
           "complaint": "خدمتكم سيئة جدا وأنا زعلان مرة", "handoff": "أبغى أكلم موظف", "yes": "نعم", "no": "لا",
           "cheaper": "لقيته أرخص في مكان ثاني", "street": "شارع التحلية، عمارة 4", "city": "جدة", "keep": "لا خلاص لا تلغيه",
           "dont_want": "لا، ما أبغى ألغي الطلب"},
}
SMOKE = {  # (track, cancel, yes) for every language
    "en": ("where is my order?", "ok, please cancel it", "yes"),
    "es": ("¿dónde está mi pedido?", "vale, cancélalo por favor", "sí"),
    "fr": ("où en est ma commande ?", "finalement je veux l'annuler", "oui"),
    "de": ("wo bleibt meine Bestellung?", "bitte storniere die Bestellung", "ja"),
    "it": ("dov'è il mio ordine?", "voglio annullare l'ordine", "sì"),
    "pt": ("cadê meu pedido?", "quero cancelar o pedido", "sim"),
    "nl": ("waar blijft mijn bestelling?", "ik wil mijn bestelling annuleren", "ja"),
    "pl": ("gdzie jest moja paczka?", "chcę anulować zamówienie", "tak"),
    "ru": ("где мой заказ?", "хочу отменить заказ", "да"),
    "tr": ("siparişim nerede?", "siparişi iptal etmek istiyorum", "evet"),
    "ar": ("وين طلبي؟", "أبغى ألغي الطلب", "نعم"),
    "ja": ("注文した商品はいつ届きますか？", "注文をキャンセルしたいです", "はい"),
    "ko": ("주문한 거 언제 와요?", "주문 취소하고 싶어요", "네"),
    "zh": ("我的订单到哪了？", "我要取消订单", "是的"),
}


def pattern(key: str, language: str) -> re.Pattern:
    """A catalog message as a pattern: its words fixed, its {placeholders} anything."""
    parts = re.split(r"\{[a-z_]+\}", catalog(language)[key])
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


class Shopper:
    """One conversation over the REST channel, checking each reply against the catalog."""

    def __init__(self, stack: RasaStack, language: str, metadata: dict | None = None):
        self.stack, self.language, self.metadata = stack, language, metadata
        self.sender = stack.new_sender()
        self.last: list[dict] = []

    def says(self, text: str, *keys: str) -> list[dict]:
        self.last = self.stack.send_full(self.sender, text, self.metadata)
        texts = [m.get("text", "") for m in self.last]
        for key in keys:
            assert any(pattern(key, self.language).match(t) for t in texts), (self.language, text, key, texts)
        return self.last

    def text(self) -> str:
        return "\n".join(m.get("text", "") for m in self.last)

    @property
    def slots(self) -> dict:
        return self.stack.tracker(self.sender)["slots"]


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory):
    servers = RasaStack(trained_model, tmp_path_factory.mktemp("flows"), {"CUSTOMER_TOKEN_SECRET": TOKEN_SECRET})
    servers.env["DATABASE_URL"] = demo_shop(tmp_path_factory.mktemp("shop-start"))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def shop(request, stack, tmp_path_factory):
    """A fresh demo shop behind the action server, one per language: the tests of a language run
    together, on their own shop (the five full languages first, in the same order everywhere, so
    pytest groups them)."""
    url = demo_shop(tmp_path_factory.mktemp(f"shop-{request.param}"))
    stack.restart_actions({"DATABASE_URL": url})
    db = Database(url)
    yield request.param, db
    db.dispose()


def row(db, model, *where):
    with db.transaction() as session:
        return session.execute(select(model).where(*where).options(selectinload("*"))).scalars().all()


def order(db, number) -> Order:
    return row(db, Order, Order.number == number)[0]


def cases(db, number, case_type) -> list[Case]:
    return row(db, Case, Case.order_id == order(db, number).id, Case.type == case_type)


def event_kinds(db, case: Case) -> list[str]:
    with db.transaction() as session:
        return [e.kind for e in session.get(Case, case.id).events]


def verify(shopper: Shopper, number: str, proof: str) -> None:
    shopper.says(number, "ask_proof")
    shopper.last = shopper.stack.send_full(shopper.sender, proof, shopper.metadata)


# ---- the smoke path, every language ---------------------------------------------------------------

@in_every_language
def test_verify_track_and_cancel_in_every_language(stack, shop):
    language, db = shop
    track, cancel, yes = SMOKE[language]
    shopper = Shopper(stack, language)
    shopper.says(f"{track} SH-10003", "ask_proof")
    shopper.says("lucia.fernandez@example.com", "decision.track.not_shipped")
    shopper.says(cancel, "ask_cancel_reason")
    shopper.says("1", "ask_confirm_cancel")
    shopper.says(yes, "decision.cancel.before_shipment")
    assert shopper.slots["language"] == language
    placed = order(db, "SH-10003")
    assert placed.status.value == "cancelled" and placed.cancel_reason == "changed_mind"
    refund, = row(db, Refund, Refund.order_id == placed.id)
    assert refund.amount == placed.total and refund.status.value == "pending"
    case, = cases(db, "SH-10003", "cancellation")
    assert case.language == language and case.conversation_id == shopper.sender
    assert event_kinds(db, case)[:2] == ["created", "decision"]


# ---- every flow in five languages -----------------------------------------------------------------

@in_five_languages
def test_track_an_order_in_transit(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["track"], "ask_order_number")
    verify(shopper, "SH-10018", "liam.tremblay@example.com")
    tracking = order(db, "SH-10018")
    assert pattern("decision.track.in_transit", language).match(shopper.last[0]["text"])
    assert row(db, Shipment, Shipment.order_id == tracking.id)[0].tracking_number in shopper.text()
    assert pattern("latest_scans", language).match(shopper.last[1]["text"])


@in_five_languages
def test_a_late_parcel_opens_a_delay_case_and_a_silent_one_an_investigation(stack, shop):
    language, db = shop
    late = Shopper(stack, language)
    late.says(f"{SAY[language]['track']} SH-10008", "ask_proof")
    late.says("giulia.romano@example.com", "decision.track.delayed")
    case, = cases(db, "SH-10008", "delivery_delay")
    assert case.number in late.text() and case.status == CaseStatus.OPEN
    lost = Shopper(stack, language)
    lost.says(f"{SAY[language]['track']} SH-10007", "ask_proof")
    lost.says("150-0041", "decision.track.no_scan_investigation")
    case, = cases(db, "SH-10007", "lost_parcel")
    assert case.priority.value == "high" and case.number in lost.text()


@in_five_languages
def test_cancel_before_shipment_refunds(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['cancel']} SH-10053", "ask_proof")
    shopper.says("150-0041", "ask_cancel_reason")
    shopper.says(SAY[language]["cheaper"], "ask_confirm_cancel")
    shopper.says(SAY[language]["yes"], "decision.cancel.before_shipment")
    cancelled = order(db, "SH-10053")
    assert cancelled.status.value == "cancelled"
    assert cancelled.cancel_reason in ("found_cheaper", SAY[language]["cheaper"])  # a choice, or their own words
    refund, = row(db, Refund, Refund.order_id == cancelled.id)
    assert refund.amount == cancelled.total


@in_five_languages
# "keep" and "dont_want": the request negated ("don't cancel it", "I don't want to cancel") is a no, not the request again
@pytest.mark.parametrize("answer", ["no", "keep", "dont_want"])
def test_cancel_declined_keeps_the_order(stack, shop, answer):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['cancel']} SH-10014", "ask_proof")
    shopper.says("wang.fang@example.com", "ask_cancel_reason")
    shopper.says("3", "ask_confirm_cancel")
    shopper.says(SAY[language][answer], "cancel_kept")
    assert order(db, "SH-10014").status.value == "processing"
    assert not row(db, Refund, Refund.order_id == order(db, "SH-10014").id)


@in_five_languages
def test_a_reply_without_words_confirms_nothing(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['cancel']} SH-10014", "ask_proof")
    shopper.says("wang.fang@example.com", "ask_cancel_reason")
    shopper.says("3", "ask_confirm_cancel")
    for shrug in ("...", "🤔", "??"):  # the bot must not read a yes into these
        shopper.says(shrug, "not_understood", "ask_confirm_cancel")  # said so, and asked again
        assert "confirmed" not in shopper.slots or shopper.slots["confirmed"] is None, (language, shrug)
        assert order(db, "SH-10014").status.value == "processing"
    shopper.says(SAY[language]["no"], "cancel_kept")
    assert order(db, "SH-10014").status.value == "processing"


@in_five_languages
def test_a_shipped_order_cannot_be_cancelled(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['cancel']} SH-10004", "ask_proof")
    shopper.says("camille.dubois@example.com", "ask_cancel_reason")
    shopper.says("4", "decision.cancel.after_shipment")
    assert order(db, "SH-10004").status.value == "in_transit"
    case, = cases(db, "SH-10004", "cancellation")
    assert case.reason == "delivery_too_slow" and case.rule_id == "cancel.after_shipment"


@in_five_languages
def test_change_the_address_before_shipment(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["address"], "ask_order_number")
    shopper.says("SH-10014", "ask_proof")
    shopper.says("200040", "ask_addr_line1")
    shopper.says(SAY[language]["street"], "ask_addr_city")
    shopper.says(SAY[language]["city"], "ask_addr_postcode")
    shopper.says("2000", "invalid_postcode", "ask_addr_postcode")  # China's postcodes have six digits
    shopper.says("200031", "ask_addr_region")
    shopper.says("上海", "ask_confirm_address")
    assert SAY[language]["street"] in shopper.text()
    shopper.says(SAY[language]["yes"], "decision.address.before_shipment")
    moved = order(db, "SH-10014")
    assert (moved.ship_line1, moved.ship_city, moved.ship_postcode) == (
        SAY[language]["street"], SAY[language]["city"], "200031")


@in_five_languages
def test_a_wrong_address_read_back_is_taken_again(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['address']} SH-10004", "ask_proof")
    shopper.says("75009", "ask_addr_line1")
    shopper.says("3 rue Lepic", "ask_addr_city")
    shopper.says("Paris", "ask_addr_postcode")
    shopper.says("75018", "ask_confirm_address")
    shopper.says(SAY[language]["no"], "ask_addr_line1")
    shopper.says("5 rue Lepic", "ask_addr_city")
    shopper.says("Paris", "ask_addr_postcode")
    shopper.says("75018", "ask_confirm_address")
    shopper.says(SAY[language]["yes"], "decision.address.intercept_and_reship")
    moved = order(db, "SH-10004")
    assert moved.ship_line1 == "5 rue Lepic"
    assert row(db, Shipment, Shipment.order_id == moved.id)[0].intercepted
    assert cases(db, "SH-10004", "address_change")[0].status == CaseStatus.OPEN  # the reship is still to do


@in_five_languages
def test_a_valuable_shipped_parcel_is_not_rerouted_and_a_person_is_offered(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['address']} SH-10005", "ask_proof")
    shopper.says("oliver.bennett@example.com", "decision.address.shipped_high_value")
    assert [b["payload"] for b in shopper.last[-1]["buttons"]] == ["/human_handoff"]
    assert order(db, "SH-10005").ship_line1 == "14 Baker Street"
    shopper.says("/human_handoff", "handoff_created")
    case, = cases(db, "SH-10005", "address_change")  # the declined case itself goes to a person
    assert case.status == CaseStatus.ESCALATED and case.number in shopper.text()
    assert "SH-10005" in case.summary  # what the agent reads first


@in_five_languages
def test_return_one_item_of_several(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["return"], "ask_order_number")
    shopper.says("SH-10001", "ask_proof")
    shopper.says("emily.carter@example.com", "ask_items_return")
    shopper.says("1", "ask_return_reason")
    shopper.says("2", "ask_resolution_return")
    shopper.says("1", "decision.return.within_window", "return_shipping.customer")
    rma, = row(db, Return, Return.order_id == order(db, "SH-10001").id)
    assert (rma.reason, rma.resolution, rma.shipping_paid_by) == ("doesnt_fit", "refund", "customer")
    assert rma.rma_number in shopper.text() and [i.order_item_id for i in rma.items] == [order(db, "SH-10001").items[0].id]


@in_five_languages
def test_an_item_that_arrived_broken_is_refunded_without_return(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['problem']} SH-10012", "ask_proof")
    shopper.says("ahmed.alharbi@example.com", "ask_items_problem")
    shopper.says('/inform{"choice":"item:%d"}' % order(db, "SH-10012").items[0].id, "ask_problem_kind")
    shopper.says('/inform{"choice":"damaged"}', "ask_resolution_problem")
    shopper.says("1", "decision.return.fault_keep_it")
    refund, = row(db, Refund, Refund.order_id == order(db, "SH-10012").id)
    assert refund.reason == "keep_it" and refund.amount == order(db, "SH-10012").items[0].unit_price
    assert cases(db, "SH-10012", "item_problem")[0].reason == "damaged"


@in_five_languages
def test_an_overdue_refund_is_escalated(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["refund"], "ask_order_number")
    verify(shopper, "SH-10009", "sanne.devries@example.com")
    assert pattern("decision.refund.overdue", language).match(shopper.last[0]["text"])
    case, = cases(db, "SH-10009", "refund")
    assert case.status == CaseStatus.ESCALATED and case.priority.value == "high" and case.sla_due_at


@in_five_languages
def test_customs_for_a_held_parcel(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(f"{SAY[language]['customs']} SH-10006", "ask_proof")
    shopper.says("8001", "decision.customs.held", "duties.DDU")
    case, = cases(db, "SH-10006", "customs")
    assert case.number in shopper.text()


@in_five_languages
def test_a_complaint_goes_to_a_person(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["complaint"], "decision.complaint.escalate")
    case, = row(db, Case, Case.conversation_id == shopper.sender)
    assert (case.type.value, case.status, case.language) == ("complaint", CaseStatus.ESCALATED, language)


@in_five_languages
def test_asking_for_a_person(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["handoff"], "handoff_created")
    case, = row(db, Case, Case.conversation_id == shopper.sender)
    assert case.status == CaseStatus.ESCALATED and SAY[language]["handoff"] in case.summary


# ---- conversations are not scripts ------------------------------------------------------------------

@in_five_languages
def test_small_talk_and_another_order_in_the_middle_of_a_flow(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["cancel"], "ask_order_number")
    shopper.says("SH-10004", "ask_proof")
    shopper.says("camille.dubois@example.com", "ask_cancel_reason")
    replies = shopper.says({"en": "hello", "es": "hola", "de": "hallo", "zh": "你好", "ar": "مرحبا"}[language],
                           "greet", "ask_cancel_reason")  # answered, then the question again
    assert len(replies) == 2
    # "No, the other one": same customer, verified by e-mail, so no new proof.
    shopper.says("SH-10020", "decision.cancel.delivered")
    assert order(db, "SH-10004").status.value == "in_transit"


@pytest.mark.parametrize("shop", ["en"], indirect=True)  # one switch is enough: English to Spanish
def test_switching_language_and_request_in_the_middle_of_a_flow(stack, shop):
    shopper = Shopper(stack, "en")
    shopper.says(SAY["en"]["cancel"], "ask_order_number")
    shopper.language = "es"
    shopper.says("perdona, prefiero seguir en español, ¿dónde está mi paquete? SH-10018", "ask_proof")
    shopper.says("liam.tremblay@example.com", "decision.track.in_transit")
    assert shopper.slots["language"] == "es"


@in_five_languages
def test_no_stops_a_flow(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    shopper.says(SAY[language]["return"], "ask_order_number")
    shopper.says(SAY[language]["no"], "request_stopped")
    assert shopper.stack.tracker(shopper.sender)["active_loop"] in ({}, None) or not \
        shopper.stack.tracker(shopper.sender)["active_loop"].get("name")


# ---- identity before data -----------------------------------------------------------------------------

@in_five_languages
def test_wrong_details_reveal_nothing_and_lock_after_five_tries(stack, shop):
    language, db = shop
    shopper = Shopper(stack, language)
    secret = order(db, "SH-10005")
    shopper.says(f"{SAY[language]['track']} SH-10005", "ask_proof")
    for attempt in range(4):
        shopper.says(f"guess{attempt}@example.com", "verification_failed")
        assert_reveals_nothing(shopper.text(), secret)
    shopper.says("guess4@example.com", "verification_locked")
    # Locked: not even the right e-mail opens the order now, nor a new conversation for it.
    other = Shopper(stack, language)
    other.says(f"{SAY[language]['track']} SH-10005", "ask_proof")
    other.says("oliver.bennett@example.com", "verification_locked")
    assert_reveals_nothing(other.text(), secret)
    # An order that does not exist gets the very same answer as a wrong e-mail.
    third = Shopper(stack, language)
    third.says(f"{SAY[language]['track']} SH-99999", "ask_proof")
    third.says("someone@example.com", "verification_failed")


def assert_reveals_nothing(text: str, secret: Order) -> None:
    for detail in (secret.ship_line1, secret.ship_city, secret.ship_postcode, "Automatic watch", "Royal Mail",
                   str(secret.total), "oliver"):
        assert detail not in text, detail


@in_five_languages
def test_a_signed_storefront_token_skips_the_check_for_the_customers_own_orders(stack, shop):
    language, db = shop
    token = sign_customer_token("camille.dubois@example.com", TOKEN_SECRET, utcnow())
    shopper = Shopper(stack, language, {"customData": {"customer_token": token}})
    shopper.says(SAY[language]["track"], "ask_order_pick")  # two orders: pick one
    own = sorted(row(db, Order, Order.customer_id == order(db, "SH-10004").customer_id),
                 key=lambda o: o.placed_at, reverse=True)
    assert [b["payload"] for b in shopper.last[-1]["buttons"]] == [o.number for o in own][:5]
    shopper.says("SH-10004", "decision.track.in_transit")
    # Somebody else's order still needs its proof.
    shopper.says(f"{SAY[language]['track']} SH-10018", "ask_proof")
    forged = Shopper(stack, language, {"customData": {"customer_token": token[:-2] + "xx"}})
    forged.says(SAY[language]["track"], "ask_order_number")


def test_a_retried_message_is_answered_once(stack):
    """A client (or a load balancer) that resends a message after a broken connection, with the
    same message_id, gets the same answer, and the conversation holds the message once."""
    import urllib.error

    from tests.servers import http_json
    sender = stack.new_sender()
    payload = {"sender": sender, "message": "hello", "message_id": "turn-1"}
    first = http_json(f"{stack.url}/webhooks/rest/webhook", payload)
    again = http_json(f"{stack.url}/webhooks/rest/webhook", payload)
    assert first and again == first
    user_texts = lambda: [e["text"] for e in stack.tracker(sender)["events"] if e["event"] == "user"]  # noqa: E731
    assert user_texts() == ["hello"]
    stack.send(sender, "hello")  # a message without an id is handled every time
    assert user_texts() == ["hello", "hello"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        http_json(f"{stack.url}/webhooks/rest/webhook", {**payload, "message_id": "<script>"})
    assert refused.value.code == 400
