"""Dense sentence features from multilingual sentence encoders (bot/encoder.py).

They map the 14 languages into one space, so what the classifier learns in one language carries
over to phrasings it has only seen in another. Each encoder's vector is a feature of its own,
named after the encoder, so the classifier can weigh them apart.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.encoder import ENCODERS, embed

BATCH = 64


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "encoders": ["use"]}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        unknown = set(config["encoders"]) - set(ENCODERS)
        if unknown or not config["encoders"]:
            raise ValueError(f"encoders must be some of {sorted(ENCODERS)}, not {config['encoders']}")

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self.validate_config(self._config)
        for encoder in self._config["encoders"]:
            embed(["warm up"], encoder)  # the first call compiles and caches; do it at load, not per message

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEncoderFeaturizer":
        return cls(config, execution_context)

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            for encoder in self._config["encoders"]:
                for message, vector in zip(batch, embed([m.get(TEXT) for m in batch], encoder)):
                    self._add(message, vector, encoder)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @staticmethod
    def _add(message: Message, vector: np.ndarray, encoder: str) -> None:
        message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, encoder))
