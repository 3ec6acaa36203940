"""The intent classifier's training matrix, built by the real tokenizer and sentence encoder."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.encoder import embed
from components.intent_classifier import LinearIntentClassifier, _chars, _words, fold, scoped_words
from components.sentence_encoder import SentenceEncoderFeaturizer
from components.tokenizer import MultilingualTokenizer

EXAMPLES = [("siparişim nerede", "track_order"), ("where is my parcel", "track_order"),
            ("où est mon colis", "track_order"), ("siparişimi iptal edin", "cancel_order"),
            ("cancel my order please", "cancel_order"), ("zamówienie chcę anulować", "cancel_order"),
            ("أريد إلغاء الطلب", "cancel_order"),  # the Arabic has a hamza seat: folded, it is "اريد الغاء"
            ("👍", "affirm"), ("yes 👍", "affirm"), ("👎", "deny"), ("no thanks", "deny")]


WEIGHTS = {"use": 0.7, "e5": 1.6}


def dense_of(text: str) -> np.ndarray:
    """What the classifier should see of a text: each encoder's vector, weighted, in order."""
    return np.hstack([embed([text], encoder)[0] * weight for encoder, weight in WEIGHTS.items()])


@pytest.fixture
def featurized(tmp_path):
    storage, context = LocalModelStorage(tmp_path), ExecutionContext(GraphSchema({}), node_name="test")
    data = TrainingData([Message.build(text, intent) for text, intent in EXAMPLES])
    tokenizer = MultilingualTokenizer.create(MultilingualTokenizer.get_default_config(), storage, Resource("tok"),
                                             context)
    encoder = SentenceEncoderFeaturizer.create({**SentenceEncoderFeaturizer.get_default_config(), "encoders": ["use", "e5"]},
                                               storage, Resource("encoders"), context)
    encoder.process_training_data(tokenizer.process_training_data(data))
    classifier = LinearIntentClassifier.create({"min_df": 1, "calibration_folds": 2, "dense_weights": WEIGHTS},
                                               storage, Resource("clf"), context)
    return classifier, data, lambda messages: encoder.process(tokenizer.process(messages))


def test_accented_examples_are_also_trained_as_typed_without_accents(featurized):
    classifier, data, _ = featurized
    features, labels, groups = classifier._training_matrix(data.intent_examples)
    accented = [i for i, (text, _) in enumerate(EXAMPLES) if fold(text) != text.lower()]
    assert [EXAMPLES[i][0] for i in accented] == ["siparişim nerede", "où est mon colis", "siparişimi iptal edin",
                                                  "zamówienie chcę anulować", "أريد إلغاء الطلب"]
    assert features.shape[0] == len(EXAMPLES) + len(accented)
    assert list(groups[len(EXAMPLES):]) == accented  # each copy calibrates in its original's fold
    assert list(labels[len(EXAMPLES):]) == [EXAMPLES[i][1] for i in accented]

    dim = dense_of("x").shape[0]
    dense, ngrams = features[:, -dim:].toarray(), features[:, :-dim].toarray()
    for original in range(len(EXAMPLES)):
        assert np.allclose(dense[original], dense_of(EXAMPLES[original][0]), atol=1e-5)  # both encoders, weighted
    for copy, original in enumerate(accented, start=len(EXAMPLES)):
        assert np.array_equal(ngrams[copy], ngrams[original])  # the n-grams are folded already
        assert np.allclose(dense[copy], dense_of(fold(EXAMPLES[original][0])), atol=1e-5)  # read without accents
        assert not np.allclose(dense[copy], dense[original], atol=1e-3)


def test_requests_are_also_trained_with_an_order_number(featurized):
    classifier, data, featurize = featurized
    examples = data.intent_examples
    plain, _, _ = classifier._training_matrix(examples)
    classifier.config["requests"] = ["cancel_order"]
    examples += featurize([Message.build("cancel SH-10482", "cancel_order")])  # has a number already: no copy
    features, labels, groups = classifier._training_matrix(examples)
    requests = [i for i, (_, intent) in enumerate(EXAMPLES) if intent == "cancel_order"]
    copies = slice(features.shape[0] - len(requests), features.shape[0])
    assert features.shape[0] == plain.shape[0] + 1 + len(requests)
    assert list(groups[copies]) == requests and set(labels[copies]) == {"cancel_order"}

    dim = dense_of("x").shape[0]
    ngrams = features[copies, :-dim].toarray()
    vectorize = classifier._ngrams_of
    for row, i in zip(ngrams, requests):
        text, tokens = examples[i].get("text"), examples[i].get("text_tokens")
        scoped = scoped_words(text, tokens)
        before = vectorize([_chars(f"SH-10000 {text}")], [_words(["SH-10000", *scoped])]).toarray()[0]
        after = vectorize([_chars(f"{text} SH-10000")], [_words([*scoped, "SH-10000"])]).toarray()[0]
        original = vectorize([_chars(text)], [_words(scoped)]).toarray()[0]
        assert np.allclose(row, before) or np.allclose(row, after)  # the number masked, first or last
        assert not np.allclose(row, original)


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


def test_an_encoder_the_pipeline_does_not_compute_is_a_configuration_error(featurized, tmp_path):
    classifier, data, _ = featurized
    classifier.config["dense_weights"] = {**WEIGHTS, "labse": 1.0}
    with pytest.raises(ValueError, match="labse"):
        classifier.train(data)
    with pytest.raises(ValueError, match="labse"):
        SentenceEncoderFeaturizer.create({**SentenceEncoderFeaturizer.get_default_config(), "encoders": ["use", "labse"]},
                                         LocalModelStorage(tmp_path), Resource("encoders"),
                                         ExecutionContext(GraphSchema({}), node_name="test"))
