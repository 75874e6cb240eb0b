"""Notebook 08 (visual attention), exercises 3, 4 and 5."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from helpers.decoding import AttentionStepDecoder
from helpers.models import AttentionLSTM, build_attention_model
from helpers.text import Vocabulary


def map_entropy(maps: np.ndarray) -> np.ndarray:
    """Exercise 3: the entropy of each attention map (a row of weights summing to one).

    0 for a map that puts all its weight on one position, ``log(L)`` (5.28 for
    196 positions) for a uniform map: the lower, the sharper.
    """
    maps = np.asarray(maps, dtype=np.float64)
    return -(maps * np.log(np.clip(maps, 1e-12, None))).sum(axis=-1)


def ratio_by(looked: Sequence[dict], key: str = "word") -> dict[object, float]:
    """Exercise 4: attention on the named object over a uniform map's share, per ``key``.

    ``looked`` holds rows of :func:`helpers.shapes_truth.attention_on_named`, each with
    the ``key`` to group by (``"word"``, ``"kind"``, or one you add such as
    ``"objects"``). The ratio of a group is its mean attention on the object
    over its mean uniform share, as in the notebook.
    """
    groups: dict[object, list[dict]] = defaultdict(list)
    for row in looked:
        groups[row[key]].append(row)
    return {group: float(np.mean([r["on_object"] for r in rows])
                         / np.mean([r["uniform"] for r in rows]))
            for group, rows in sorted(groups.items(), key=lambda item: str(item[0]))}


@keras.saving.register_keras_serializable(package="solutions")
class GatedAttentionLSTM(AttentionLSTM):
    """Exercise 5: Xu et al.'s gating scalar, ``z_t = sigmoid(w . h_{t-1} + b) * z_t``.

    The gate lets the model decide, word by word, how much of what it looks at
    to use; the weights ``alpha`` are unchanged, so the maps still sum to one.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = layers.Dense(1, activation="sigmoid", name="gate",
                                  kernel_initializer=keras.initializers.GlorotUniform(
                                      seed=self.seed + 1))

    def build(self, embedded_shape, tokens_shape, grid_shape, h_shape, c_shape):
        super().build(embedded_shape, tokens_shape, grid_shape, h_shape, c_shape)
        self.gate.build((None, self.units))

    def attend(self, keys, grid, h):
        context, alpha = super().attend(keys, grid, h)
        return context * self.gate(h), alpha


def build_gated_model(vocab_size: int, grid_shape: tuple[int, int, int], **options
                      ) -> keras.Model:
    """Exercise 5: the attention captioner with the gated attention layer."""
    return build_attention_model(vocab_size, grid_shape=grid_shape,
                                 attention_layer=GatedAttentionLSTM, **options)


def gate_values(model: keras.Model, vocab: Vocabulary, grid: np.ndarray,
                tokens: Sequence[int]) -> np.ndarray:
    """Exercise 5: the gate of each step while the model reads ``tokens`` (``<start>`` first)."""
    lstm = model.get_layer("attention_lstm")
    decoder = AttentionStepDecoder(model, vocab)  # its first state: from the mean of the grid
    (keys, positions), h, c = decoder.start(grid[None].astype("float32"))
    embedding = model.get_layer("embedding").embeddings
    gates = []
    for token in tokens:
        gates.append(float(np.asarray(lstm.gate(h))[0, 0]))
        h, c, _, _ = lstm.step(keras.ops.take(embedding, [token], axis=0), keys, positions, h, c)
    return np.array(gates)
