"""The merge captioner, built with Keras (notebook 04).

The classic "merge" architecture keeps the picture out of the recurrent part:
the LSTM reads only the words, and the image joins it afterwards::

    fc2 (4096) -> dropout -> Dense 256 relu ---------------+
                                                           (+) -> Dense 256 relu -> Dense softmax
    words -> Embedding 256 (mask 0) -> dropout -> LSTM 256 -+

The seed's values are the defaults. One difference from the classic code: the
LSTM returns its output at **every** position, so one call predicts the next
word after each prefix of a caption at once (teacher forcing on whole captions,
notebook 05). :func:`next_word_model` wraps the very same layers in the classic
formulation, one prefix in and one next-word distribution out, so the two can be
compared by a check.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

FEATURE_DIM = 4096  # VGG16 fc2
UNITS = 256
EMBEDDING_DIM = 256
DROPOUT = 0.5  # the seed's dropout rate, on both branches


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


def build_caption_model(
    vocab_size: int,
    feature_dim: int = FEATURE_DIM,
    units: int = UNITS,
    embedding_dim: int = EMBEDDING_DIM,
    dropout: float = DROPOUT,
    feature_stats: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    name: str = "merge_captioner",
) -> keras.Model:
    """The merge model: ``[features (batch, 4096), tokens (batch, time)] -> (batch, time, vocab)``.

    Output ``[:, t]`` is the distribution of the word that follows
    ``tokens[:, : t + 1]``. ``feature_stats`` = (mean, std) adds a fixed
    standardisation of the features as the first layer (needed for any encoder
    but ImageNet's VGG16, whose activations have an arbitrary scale; saved with
    the model, so inference needs nothing else). ``seed`` fixes the initial
    weights and the dropout masks.
    """
    if vocab_size < 5:
        raise ValueError(f"vocab_size={vocab_size}: a vocabulary has 4 special tokens plus words")
    keras.utils.set_random_seed(seed)
    features = keras.Input(shape=(feature_dim,), name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")

    # Image branch: 4096 numbers -> 256.
    x = features
    if feature_stats is not None:
        mean, std = (np.asarray(a, dtype="float32") for a in feature_stats)
        x = layers.Normalization(mean=mean, variance=std**2, name="standardise")(x)
    x = layers.Dropout(dropout, seed=seed, name="image_dropout")(x)
    image = layers.Dense(units, activation="relu", name="image_dense")(x)
    image = layers.Reshape((1, units), name="image_per_step")(image)  # broadcast over time

    # Word branch: each position sees the words so far.
    w = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1, name="word_dropout")(w)
    words = layers.LSTM(units, return_sequences=True, name="lstm")(w)

    # Merge, then decide the next word.
    merged = layers.Add(name="merge")([image, words])
    hidden = layers.Dense(units, activation="relu", name="decoder_dense")(merged)
    probs = layers.Dense(vocab_size, activation="softmax", name="next_word")(hidden)
    return keras.Model([features, tokens], probs, name=name)


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


def vocab_size_of(model: keras.Model) -> int:
    """How many words the model's output layer chooses from."""
    return int(model.output_shape[-1])


def count_parameters(model: keras.Model) -> dict[str, int]:
    """Trainable parameters per layer (layers without any are left out), and the total."""
    counts = {layer.name: int(sum(np.prod(w.shape) for w in layer.trainable_weights))
              for layer in model.layers}
    counts = {k: v for k, v in counts.items() if v}
    counts["total"] = sum(counts.values())
    return counts


def build_inject_model(
    vocab_size: int,
    feature_dim: int = FEATURE_DIM,
    units: int = UNITS,
    embedding_dim: int = EMBEDDING_DIM,
    dropout: float = DROPOUT,
    seed: int = 0,
) -> keras.Model:
    """The "init-inject" alternative, for comparison in notebook 04.

    The image vector becomes the LSTM's initial state, so the recurrent part
    mixes image and words. Same inputs and outputs as :func:`build_caption_model`.
    """
    keras.utils.set_random_seed(seed)
    features = keras.Input(shape=(feature_dim,), name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Dropout(dropout, seed=seed)(features)
    state = layers.Dense(units, activation="tanh", name="image_to_state")(x)
    w = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1)(w)
    words = layers.LSTM(units, return_sequences=True, name="lstm")(w, initial_state=[state, state])
    hidden = layers.Dense(units, activation="relu", name="decoder_dense")(words)
    probs = layers.Dense(vocab_size, activation="softmax", name="next_word")(hidden)
    return keras.Model([features, tokens], probs, name="inject_captioner")
