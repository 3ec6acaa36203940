"""One tokenizer for all 14 languages: words where a script has spaces, segmenters where it has not.

Chinese runs go through jieba, Japanese runs (any kana in the message) through SudachiPy; every
other script splits on spaces and punctuation. Order numbers, e-mails and amounts stay one token.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

_HAN_OR_KANA = r"\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_PIECES = re.compile(
    rf"(?P<cjk>[{_HAN_OR_KANA}]+)"
    # ASCII classes on purpose: in Chinese and Japanese a number or e-mail touches the words around it.
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<code>[+#]?[A-Za-z]{0,4}-?\d[A-Za-z0-9-]*)"  # SH-10482, #10482, +34, 1Z999..., 28014
    r"|(?P<word>\w+(?:['’]\w+)*)"
    r"|(?P<emoji>[\U0001F300-\U0001FAFF\u2600-\u27BF])"
)


@lru_cache(maxsize=1)
def _sudachi():
    from sudachipy import dictionary, tokenizer
    return dictionary.Dictionary().create(), tokenizer.Tokenizer.SplitMode.C


def _segment(run: str, japanese: bool) -> List[str]:
    if japanese:
        tok, mode = _sudachi()
        return [m.surface() for m in tok.tokenize(run, mode)]
    import jieba
    return [w for w in jieba.cut(run) if w.strip()]


def split_words(text: str) -> List[str]:
    japanese = bool(_KANA.search(text))
    words: List[str] = []
    for match in _PIECES.finditer(text):
        if match.lastgroup == "cjk":
            words.extend(_segment(match.group(), japanese))
        else:
            words.append(match.group())
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MultilingualTokenizer(Tokenizer):

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intent_tokenization_flag": False, "intent_split_symbol": "_", "token_pattern": None,
                "prefix_separator_symbol": None}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "MultilingualTokenizer":
        import jieba
        jieba.setLogLevel(60)  # silence its start-up chatter
        jieba.initialize()
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute)
        words = split_words(text)
        if not words:
            words = [text]
        return self._apply_token_pattern(self._convert_words_to_tokens(words, text))
