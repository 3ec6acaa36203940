"""The intent classifier's training matrix and its two passes, with the real tokenizer and sentence encoders."""
from __future__ import annotations

import re

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import encoder
from bot.encoder import E5_MAX_TOKENS, _e5, _within_budget, embed
from components.intent_classifier import LinearIntentClassifier, _chars, _words, fold, scoped_words
from components.tokenizer import MultilingualTokenizer

EXAMPLES = [("siparişim nerede", "track_order"), ("where is my parcel", "track_order"),
            ("où est mon colis", "track_order"), ("siparişimi iptal edin", "cancel_order"),
            ("cancel my order please", "cancel_order"), ("zamówienie chcę anulować", "cancel_order"),
            ("أريد إلغاء الطلب", "cancel_order"),  # the Arabic has a hamza seat: folded, it is "اريد الغاء"
            ("👍", "affirm"), ("yes 👍", "affirm"), ("👎", "deny"), ("no thanks", "deny")]


WEIGHTS = {"use": 0.7, "e5": 1.6}


def vector_of(text: str, name: str) -> np.ndarray:
    """What the classifier should see of a text from one encoder: its vector, weighted."""
    return embed([text], name)[0] * WEIGHTS[name]


@pytest.fixture
def featurized(tmp_path):
    storage, context = LocalModelStorage(tmp_path), ExecutionContext(GraphSchema({}), node_name="test")
    data = TrainingData([Message.build(text, intent) for text, intent in EXAMPLES])
    tokenizer = MultilingualTokenizer.create(MultilingualTokenizer.get_default_config(), storage, Resource("tok"),
                                             context)
    tokenizer.process_training_data(data)
    classifier = LinearIntentClassifier.create({"min_df": 1, "calibration_folds": 2, "dense_weights": WEIGHTS},
                                               storage, Resource("clf"), context)
    return classifier, data, tokenizer.process


def test_accented_examples_are_also_trained_as_typed_without_accents(featurized):
    classifier, data, _ = featurized
    ngrams, vectors, labels, groups = classifier._training_matrix(data.intent_examples)
    accented = [i for i, (text, _) in enumerate(EXAMPLES) if fold(text) != text.lower()]
    assert [EXAMPLES[i][0] for i in accented] == ["siparişim nerede", "où est mon colis", "siparişimi iptal edin",
                                                  "zamówienie chcę anulować", "أريد إلغاء الطلب"]
    assert ngrams.shape[0] == len(EXAMPLES) + len(accented)
    assert list(groups[len(EXAMPLES):]) == accented  # each copy calibrates in its original's fold
    assert list(labels[len(EXAMPLES):]) == [EXAMPLES[i][1] for i in accented]

    ngrams = ngrams.toarray()
    assert list(vectors) == list(WEIGHTS)
    for name, block in vectors.items():
        assert block.shape[0] == ngrams.shape[0]
        for original in range(len(EXAMPLES)):
            assert np.allclose(block[original], vector_of(EXAMPLES[original][0], name), atol=1e-5)  # weighted
        for copy, original in enumerate(accented, start=len(EXAMPLES)):
            assert np.allclose(block[copy], vector_of(fold(EXAMPLES[original][0]), name), atol=1e-5)  # read without accents
            assert not np.allclose(block[copy], block[original], atol=1e-3)
    for copy, original in enumerate(accented, start=len(EXAMPLES)):
        assert np.array_equal(ngrams[copy], ngrams[original])  # the n-grams are folded already


def test_requests_are_also_trained_with_an_order_number(featurized):
    classifier, data, featurize = featurized
    examples = data.intent_examples
    plain, _, _, _ = classifier._training_matrix(examples)
    classifier.config["requests"] = ["cancel_order"]
    examples += featurize([Message.build("cancel SH-10482", "cancel_order")])  # has a number already: no copy
    ngrams, vectors, labels, groups = classifier._training_matrix(examples)
    requests = [i for i, (_, intent) in enumerate(EXAMPLES) if intent == "cancel_order"]
    copies = slice(ngrams.shape[0] - len(requests), ngrams.shape[0])
    assert ngrams.shape[0] == plain.shape[0] + 1 + len(requests)
    assert list(groups[copies]) == requests and set(labels[copies]) == {"cancel_order"}

    _, copied, _ = classifier._with_an_order_number(examples, ngrams)
    vectorize = classifier._ngrams_of
    for row, vector, i in zip(ngrams[copies].toarray(), vectors["e5"][copies], requests):
        text, tokens = examples[i].get("text"), examples[i].get("text_tokens")
        scoped = scoped_words(text, tokens)
        before = vectorize([_chars(f"SH-10000 {text}")], [_words(["SH-10000", *scoped])]).toarray()[0]
        after = vectorize([_chars(f"{text} SH-10000")], [_words([*scoped, "SH-10000"])]).toarray()[0]
        original = vectorize([_chars(text)], [_words(scoped)]).toarray()[0]
        assert np.allclose(row, before) or np.allclose(row, after)  # the number masked, first or last
        assert not np.allclose(row, original)
        number = r"(SH-|sh|#)1\d{4}"
        [copy] = [t for t in copied if re.fullmatch(f"{number} {re.escape(text)}|{re.escape(text)} {number}", t)]
        assert np.allclose(vector, vector_of(copy, "e5"), atol=1e-5)  # the encoders read it with its number


def test_a_trained_classifier_ranks_every_intent_with_probabilities(featurized):
    classifier, data, featurize = featurized
    classifier.train(data)
    [message] = classifier.process(featurize([Message.build("siparisim nerede")]))
    ranking = message.get("intent_ranking")
    assert {r["name"] for r in ranking} == {"track_order", "cancel_order", "affirm", "deny"}
    assert message.get("intent") == ranking[0] and ranking[0]["name"] == "track_order"  # typed without the ş
    assert abs(sum(r["confidence"] for r in ranking) - 1) < 1e-6


def test_symbols_the_training_data_never_gave_a_meaning_get_no_intent(featurized):
    classifier, data, featurize = featurized
    classifier.train(data)
    texts = ["👍🏻", "👍 👍", "...", "???", "🤔", "👍?", "1", "ok..."]
    intents = [m.get("intent") for m in classifier.process(featurize([Message.build(t) for t in texts]))]
    assert [i["name"] for i in intents[:2]] == ["affirm", "affirm"]  # a skin tone does not change a thumb
    assert intents[2:6] == [{"name": None, "confidence": 0.0}] * 4  # so the fallback asks again
    assert all(i["name"] and i["confidence"] > 0 for i in intents[6:])  # digits and words are classified


@pytest.mark.parametrize("text, words", [
    ("please do not cancel my order", "please do not ¬cancel ¬my ¬order"),
    ("dont cancel SH-10482 pls", "dont ¬cancel #ref ¬pls"),  # the order number stays data
    ("No, I want to cancel it", "no i want to cancel it"),  # the comma ends the clause "no" was
    ("it hasn't arrived, the tracking says delivered", "it hasn't ¬arrived the tracking says delivered"),
    ("no llegó pero ya me cobraron", "no ¬llego pero ya me cobraron"),
    ("bitte nicht stornieren", "bitte nicht ¬stornieren"),
    ("不要取消订单", "不要 ¬取消 ¬订单"),
    ("ne zaman gelir siparişim", "ne zaman gelir siparisim"),  # Turkish "ne" asks "what", it does not negate
])
def test_words_a_negation_governs_are_features_of_their_own(featurized, text, words):
    classifier, _, featurize = featurized
    [message] = featurize([Message.build(text)])
    _, [word_text] = classifier._texts([message])
    assert word_text.split() == words.split()


@pytest.mark.parametrize("change", [{"dense_weights": {**WEIGHTS, "labse": 1.0}},
                                    {"first_pass": {"encoders": ["labse"], "confident": 0.9}},
                                    {"first_pass": {"encoders": ["use"], "confident": 1.5}},
                                    {"first_pass": {"encoders": ["use"]}}])
def test_an_encoder_or_first_pass_we_do_not_have_is_a_configuration_error(tmp_path, change):
    with pytest.raises(ValueError, match="labse|first_pass"):
        LinearIntentClassifier.create({"dense_weights": WEIGHTS, **change}, LocalModelStorage(tmp_path), Resource("clf"),
                                      ExecutionContext(GraphSchema({}), node_name="test"))


def test_the_first_pass_answers_when_sure_and_e5_reads_only_the_rest(featurized, monkeypatch):
    classifier, data, featurize = featurized
    classifier.config["first_pass"] = {"encoders": ["use"], "confident": 1.0}
    classifier.train(data)
    texts = ["where is my parcel??", "müşteri hizmetleri"]
    messages = featurize([Message.build(t) for t in texts])
    ngrams, use = classifier._ngrams(messages), classifier._embedded(texts, ["use"])
    first = classifier.first_pass.predict_proba(classifier._join(ngrams, use, ["use"]))
    full = classifier.classifier.predict_proba(
        classifier._join(ngrams, classifier._embedded(texts, ["use", "e5"]), ["use", "e5"]))
    assert not np.allclose(first, full, atol=1e-3)  # two models, two answers
    sure, unsure = np.argsort(-first.max(axis=1))
    classifier.config["first_pass"]["confident"] = first.max(axis=1).mean()  # between the two messages
    assert first[sure].max() > classifier.config["first_pass"]["confident"] > first[unsure].max()

    read_by_e5 = []
    e5 = encoder.ENCODERS["e5"]
    monkeypatch.setitem(encoder.ENCODERS, "e5", lambda batch: read_by_e5.extend(batch) or e5(batch))  # a spy: e5 still runs
    probabilities = classifier._probabilities(messages)
    assert np.allclose(probabilities[sure], first[sure]) and np.allclose(probabilities[unsure], full[unsure])
    assert read_by_e5 == [texts[unsure]]

    classifier.first_pass = None  # a model trained before the first pass: the full model reads every message
    assert np.allclose(classifier._probabilities(messages), full)


def test_e5_in_parallel_threads_gives_the_same_vectors_in_the_same_order():
    texts = [text for text, _ in EXAMPLES] + ["où est mon colis SH-10482", "kargom nerede kaldı"]
    alone = embed(texts, "e5")
    assert np.array_equal(embed(texts, "e5", workers=2), alone)
    assert np.array_equal(embed(texts, "e5", workers=3), alone)
    assert not np.allclose(alone[0], alone[1], atol=1e-3)  # different texts, different rows: the order is checked


@pytest.mark.parametrize("long_text", ["where is my order SH-10482 " * 80, "我的包裹到哪里了" * 250, "<script>" * 250])
def test_e5_reads_a_long_message_only_up_to_its_token_budget(long_text):
    """e5's cost grows faster than the text, and a Rasa server does nothing else while it runs: a
    2000-character message must cost what its first E5_MAX_TOKENS tokens cost, not seconds."""
    model = _e5(0)
    assert model.token_count(long_text, True) > 2 * E5_MAX_TOKENS
    read = _within_budget(model, long_text)
    assert long_text.startswith(read) and E5_MAX_TOKENS - 8 <= model.token_count(read, True) <= E5_MAX_TOKENS
    assert np.array_equal(embed([long_text], "e5"), embed([read], "e5"))
    short = "kargom nerede kaldı"
    assert _within_budget(model, short) == short
