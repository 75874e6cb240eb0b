"""The classic way, kept for comparison: the "before" picture (notebooks 04-06, benchmarks).

The tutorials this series re-creates train on every ``(image, prefix) ->
next word`` pair, each prefix padded to the longest caption, with one-hot
targets, and decode by calling ``model.predict`` once per word on the whole
padded prefix. The series trains on whole captions (:mod:`helpers.training`)
and decodes step by step (:mod:`helpers.decoding`); this module holds the
classic versions so notebooks and ``benchmarks/`` can show both, measured,
and a test can check that they compute the same thing.
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import layers, ops

from helpers.decoding import NEVER_CHOSEN
from helpers.text import END, START, Vocabulary
from helpers.training import CaptionData


@keras.saving.register_keras_serializable(package="captioning")
class LastStep(layers.Layer):
    """From per-position outputs ``(batch, time, vocab)`` keep the last real position.

    With post-padding (zeros after the words) the last real position of each
    row is ``number of non-zero tokens - 1``.
    """

    def call(self, outputs, tokens):
        last = ops.sum(ops.cast(ops.not_equal(tokens, 0), "int32"), axis=1) - 1
        last = ops.maximum(last, 0)
        return ops.take_along_axis(outputs, last[:, None, None], axis=1)[:, 0, :]

    def compute_mask(self, inputs, mask=None):
        return None


def next_word_model(model: keras.Model) -> keras.Model:
    """The classic formulation with the same weights: one prefix in, one next word out.

    ``[features (batch, 4096), prefix (batch, max_length)] -> (batch, vocab)``,
    where each prefix is post-padded with zeros. Training this on every
    (prefix, next word) pair is what the classic tutorials do; notebook 05 shows
    it predicts exactly what the whole-caption model predicts.
    """
    features = keras.Input(shape=model.inputs[0].shape[1:], name="features")
    prefix = keras.Input(shape=(None,), dtype="int32", name="prefix")
    per_position = model([features, prefix])
    return keras.Model([features, prefix], LastStep(name="last_step")(per_position, prefix),
                       name="next_word")


def classic_pair_batches(data: CaptionData, vocab_size: int, max_length: int):
    """The classic tutorials' generator: per image, every ``(prefix, next word)`` pair.

    Yields ``([features, prefixes], targets)`` with one row per pair of the
    image's captions: each prefix padded to ``max_length``, each target a one-hot
    vector over the vocabulary. It trains :func:`helpers.classic.next_word_model`
    with ``categorical_crossentropy``; one batch per image, endlessly.
    """
    by_image: dict[int, list[np.ndarray]] = {}
    for index, sequence in zip(data.image_index, data.sequences):
        by_image.setdefault(int(index), []).append(sequence)
    eye = np.eye(vocab_size, dtype=np.float32)
    while True:
        for index, sequences in by_image.items():
            prefixes, targets = [], []
            for sequence in sequences:
                for t in range(1, len(sequence)):
                    prefix = np.zeros(max_length, np.int32)
                    prefix[:t] = sequence[:t][-max_length:]
                    prefixes.append(prefix)
                    targets.append(eye[sequence[t]])
            features = np.repeat(data.features[index][None], len(prefixes), axis=0)
            yield [features, np.stack(prefixes)], np.stack(targets)


def words_per_second(model: keras.Model, batches, steps: int, warmup: int = 2) -> float:
    """Train ``model`` (compiled) on ``steps`` batches; predicted words per second.

    A word is a non-padding target: a non-zero id, or a one-hot row.
    """
    iterator = iter(batches)
    for _ in range(warmup):
        model.train_on_batch(*next(iterator))
    words, started = 0, time.perf_counter()
    for _ in range(steps):
        x, y = next(iterator)
        model.train_on_batch(x, y)
        y = np.asarray(y)
        words += int((y != 0).sum()) if y.ndim == 2 and y.dtype.kind == "i" else len(y)
    return words / (time.perf_counter() - started)


def classic_greedy_decode(model: keras.Model, features: np.ndarray, vocab: Vocabulary) -> list[str]:
    """The classic tutorials' loop, for comparison: one ``predict`` per word per image.

    Each call re-reads the whole prefix, padded to the maximum length. Slow on
    purpose; the decoding benchmark and the quality sweep compare it with
    :func:`greedy_decode` (notebook 06 writes its own plain loop).
    """
    classic = next_word_model(model)
    banned = [vocab.index[t] for t in NEVER_CHOSEN]
    captions = []
    for feature in features:
        prefix = [vocab.index[START]]
        while len(prefix) < vocab.max_length:
            padded = np.array(vocab.pad([prefix]), dtype=np.int32)
            probs = classic.predict([feature[None], padded], verbose=0)[0]
            probs[banned] = -1.0
            word = int(np.argmax(probs))
            prefix.append(word)
            if word == vocab.index[END]:
                break
        captions.append(vocab.decode(prefix))
    return captions
