"""Notebook 04 (the model), exercises 1 to 4."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from helpers.models import DROPOUT, EMBEDDING_DIM, UNITS, build_caption_model, count_parameters
from helpers.training import masked_loss


def counts_by_units(vocab_size: int, feature_dim: int,
                    units: tuple[int, ...] = (128, 256, 512)) -> dict[int, dict[str, int]]:
    """Exercise 1: parameters per layer for each LSTM/Dense size ``units``."""
    return {u: count_parameters(build_caption_model(vocab_size, feature_dim, units=u))
            for u in units}


def build_variant_model(vocab_size: int, feature_dim: int = 4096, units: int = UNITS,
                        embedding_dim: int = EMBEDDING_DIM, dropout: float = DROPOUT,
                        merge: str = "add", bidirectional: bool = False,
                        seed: int = 0) -> keras.Model:
    """Notebook 04's ``build_merge_model`` with two changes to try (no standardisation).

    ``merge="concat"`` (exercise 2) concatenates the image vector, repeated at
    every position, with the LSTM's outputs instead of adding them.
    ``bidirectional=True`` (exercise 4) lets the word branch read the caption
    both ways, so every position also sees the words after it.
    """
    keras.utils.set_random_seed(seed)
    features = keras.Input(shape=(feature_dim,), name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Dropout(dropout, seed=seed, name="image_dropout")(features)
    image = layers.Dense(units, activation="relu", name="image_dense")(x)
    image = layers.Reshape((1, units), name="image_per_step")(image)

    w = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1, name="word_dropout")(w)
    lstm = layers.LSTM(units, return_sequences=True, name="lstm")
    words = (layers.Bidirectional(lstm, merge_mode="sum", name="bi_lstm") if bidirectional
             else lstm)(w)

    if merge == "concat":
        repeated = image + ops.zeros_like(words)  # the image vector at every position
        merged = layers.Concatenate(name="merge")([repeated, words])
    else:
        merged = layers.Add(name="merge")([image, words])
    hidden = layers.Dense(units, activation="relu", name="decoder_dense")(merged)
    probs = layers.Dense(vocab_size, activation="softmax", name="next_word")(hidden)
    return keras.Model([features, tokens], probs, name=f"{merge}_captioner")


def untrained_loss(model: keras.Model, features, tokens, targets) -> float:
    """Exercise 3: the masked cross-entropy of a model on one batch, dropout off."""
    return float(masked_loss()(targets, model([features, tokens], training=False)))


def looks_ahead(model: keras.Model, features, tokens, position: int) -> bool:
    """Exercise 4: whether changing the token at ``position`` changes an earlier output."""
    tokens = np.array(tokens, dtype="int32")
    changed = tokens.copy()
    vocab_size = int(model.output_shape[-1])
    changed[:, position] = 4 + (changed[:, position] - 3) % (vocab_size - 4)  # another word
    before = np.asarray(model([features, tokens], training=False))[:, :position]
    after = np.asarray(model([features, changed], training=False))[:, :position]
    return not np.allclose(before, after, rtol=1e-5, atol=1e-6)
