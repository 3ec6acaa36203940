"""Understands messages in languages we have no training data for, through machine translation.

After language detection: a message reliably in an unsupported language is translated to English
before tokenisation (the parse result keeps `original_text` and `translated_from`). When no
translation service answers, the message goes on untranslated; the actions then answer in English
and offer a person (see actions/common.py).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import is_supported
from bot.translation import TranslationUnavailable, Translator


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TranslateUnsupportedLanguage(GraphComponent):
    def __init__(self) -> None:
        self.translator = Translator()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TranslateUnsupportedLanguage":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language, text = message.get("language"), message.get(TEXT)
            if not text or not language or is_supported(language) or not message.get("language_reliable"):
                continue
            try:
                english = self.translator.translate(text, language, "en")
            except TranslationUnavailable:
                message.set("translated_from", None, add_to_output=True)
                continue
            message.set("original_text", text, add_to_output=True)
            message.set("translated_from", language, add_to_output=True)
            message.set(TEXT, english)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
