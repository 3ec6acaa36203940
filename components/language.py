"""Sets each message's language (ISO 639-1) at the head of the pipeline.

`POST /model/parse` returns it as the top-level `language` field, with `language_confidence`
and `language_reliable` (whether it may switch the conversation's language). A language hint in
the message metadata (storefront locale, messaging-app language) is the prior.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import LanguageDetector, language_hint

@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LanguageDetectorComponent(GraphComponent):

    def __init__(self) -> None:
        self.detector = LanguageDetector()
        self.detector.warm_up()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageDetectorComponent":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text is None:
                continue
            detection = self.detector.detect(text, language_hint(message.get(METADATA)))
            message.set("language", detection.language, add_to_output=True)
            message.set("language_confidence", round(detection.confidence, 3), add_to_output=True)
            message.set("language_reliable", detection.reliable, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # training examples need no language: the tokenizer goes by script
