"""The head of the NLU pipeline: each message's text as understanding may read it (bot/limits.py):
without control characters or lone surrogates, at most MAX_MESSAGE_CHARS characters. The channels
already hand the bot such messages (channels/common.py `guarded`); this covers what reaches the
pipeline any other way (Rasa's HTTP API: /model/parse, /conversations/<id>/messages), so no text
makes the sentence encoder and the n-gram featurizers run for minutes.
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

from bot.limits import clean_metadata, clean_text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MessageLimit(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "MessageLimit":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text is not None:
                message.set(TEXT, clean_text(text) or "")
            if message.get(METADATA) is not None:
                message.set(METADATA, clean_metadata(message.get(METADATA)))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # training examples are ours
