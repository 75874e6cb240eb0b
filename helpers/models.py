"""The captioners, built with Keras: merge (notebook 04) and attention (notebook 08).

The classic "merge" architecture keeps the picture out of the recurrent part:
the LSTM reads only the words, and the image joins it afterwards::

    fc2 (4096) -> dropout -> Dense 256 relu ---------------+
                                                           (+) -> Dense 256 relu -> Dense softmax
    words -> Embedding 256 (mask 0) -> dropout -> LSTM 256 -+

The original tutorial's values are the defaults. One difference from the classic code: the
LSTM returns its output at **every** position, so one call predicts the next
word after each prefix of a caption at once (teacher forcing on whole captions,
notebook 05). :func:`helpers.classic.next_word_model` wraps the very same layers
in the classic formulation, one prefix in and one next-word distribution out, so
the two can be compared by a check.

The attention model (:func:`build_attention_model`, notebook 08) reads the
encoder's conv grid instead of ``fc2``: at each word an :class:`AttentionLSTM`
weighs the grid's positions and reads their weighted mean. Both predict one
vocabulary; :func:`check_vocabulary` says when a model and a vocabulary come
from different runs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from helpers.text import Vocabulary, VocabularyError

FEATURE_DIM = 4096  # VGG16 fc2
UNITS = 256
EMBEDDING_DIM = 256
DROPOUT = 0.5  # the original tutorial's dropout rate, on both branches


class _Seeds:
    """Seeded initialisers for one model, drawn one after another from ``seed``.

    A builder seeds what it builds, each layer with its own initialiser, and
    leaves the process's random state (Python's, NumPy's, TensorFlow's) alone.
    """

    def __init__(self, seed: int):
        self.draw = np.random.default_rng(seed)

    def number(self) -> int:
        """The next seed."""
        return int(self.draw.integers(2**31 - 1))

    def glorot(self) -> keras.initializers.Initializer:
        """Keras' default for a kernel."""
        return keras.initializers.GlorotUniform(seed=self.number())

    def orthogonal(self) -> keras.initializers.Initializer:
        """Keras' default for an LSTM's recurrent kernel."""
        return keras.initializers.Orthogonal(seed=self.number())

    def uniform(self) -> keras.initializers.Initializer:
        """Keras' default for an embedding."""
        return keras.initializers.RandomUniform(-0.05, 0.05, seed=self.number())

    def dense(self, units: int, **kwargs) -> layers.Dense:
        return layers.Dense(units, kernel_initializer=self.glorot(), **kwargs)

    def embedding(self, vocab_size: int, dim: int, **kwargs) -> layers.Embedding:
        return layers.Embedding(vocab_size, dim, embeddings_initializer=self.uniform(), **kwargs)

    def lstm(self, units: int, **kwargs) -> layers.LSTM:
        return layers.LSTM(units, kernel_initializer=self.glorot(),
                           recurrent_initializer=self.orthogonal(), seed=self.number(), **kwargs)


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
    seeds = _Seeds(seed)
    features = keras.Input(shape=(feature_dim,), name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")

    # Image branch: 4096 numbers -> 256.
    x = features
    if feature_stats is not None:
        mean, std = (np.asarray(a, dtype="float32") for a in feature_stats)
        x = layers.Normalization(mean=mean, variance=std**2, name="standardise")(x)
    x = layers.Dropout(dropout, seed=seed, name="image_dropout")(x)
    image = seeds.dense(units, activation="relu", name="image_dense")(x)
    image = layers.Reshape((1, units), name="image_per_step")(image)  # broadcast over time

    # Word branch: each position sees the words so far.
    w = seeds.embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1, name="word_dropout")(w)
    words = seeds.lstm(units, return_sequences=True, name="lstm")(w)

    # Merge, then decide the next word.
    merged = layers.Add(name="merge")([image, words])
    hidden = seeds.dense(units, activation="relu", name="decoder_dense")(merged)
    # float32 even under mixed precision: the softmax and the loss keep their precision
    probs = seeds.dense(vocab_size, activation="softmax", name="next_word",
                        dtype="float32")(hidden)
    return keras.Model([features, tokens], probs, name=name)


def vocab_size_of(model: keras.Model) -> int:
    """How many words the model's output layer chooses from."""
    return int(model.output_shape[-1])


def check_vocabulary(model: keras.Model, vocab: Vocabulary, where: str = "the model") -> None:
    """Raise a clear error when the model's output layer and the vocabulary disagree."""
    if vocab_size_of(model) != len(vocab):
        raise VocabularyError(
            f"{where} predicts {vocab_size_of(model)} words but the vocabulary has {len(vocab)}: "
            "they come from different runs. Use the vocab.json saved with the model, or "
            "train again (notebook 05) after building the vocabulary (notebook 03).")


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
    seeds = _Seeds(seed)
    features = keras.Input(shape=(feature_dim,), name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Dropout(dropout, seed=seed)(features)
    state = seeds.dense(units, activation="tanh", name="image_to_state")(x)
    w = seeds.embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1)(w)
    words = seeds.lstm(units, return_sequences=True, name="lstm")(w, initial_state=[state, state])
    hidden = seeds.dense(units, activation="relu", name="decoder_dense")(words)
    # float32 even under mixed precision: the softmax and the loss keep their precision
    probs = seeds.dense(vocab_size, activation="softmax", name="next_word",
                        dtype="float32")(hidden)
    return keras.Model([features, tokens], probs, name="inject_captioner")


# --------------------------------------------------------------------------
# Beyond the merge model: soft visual attention (notebook 08)
# --------------------------------------------------------------------------

ATTENTION_DIM = 128  # Xu et al. used 512 on a GPU; 128 trains twice as fast on a CPU as 256
ATTENTION_PENALTY = 0.1  # lambda of the doubly stochastic penalty (Xu et al.: 1; notebook 08)


@keras.saving.register_keras_serializable(package="captioning")
class AttentionLSTM(layers.Layer):
    """An LSTM that looks at the image grid before every word (Xu et al. 2015, soft attention).

    At step *t*, with the previous state ``h`` and the grid's ``L`` positions
    ``a_1 .. a_L`` (each a vector of ``C`` channels):

    * scores ``e_i = v . tanh(W_a a_i + W_h h)`` (additive, Bahdanau attention);
    * weights ``alpha = softmax(e)``, one per position, summing to one;
    * the context ``z = sum_i alpha_i a_i``, the part of the picture looked at;
    * the LSTM step reads ``[word embedding, z]``.

    ``call`` runs the whole caption (teacher forcing) and returns the states,
    contexts and weights of every step. While training it adds ``penalty`` times
    the doubly stochastic penalty (:func:`coverage_penalty`), so the model cannot
    stare at one spot for every word. ``step`` is one word, the same computation,
    used by the decoders (:mod:`helpers.decoding`).
    """

    def __init__(self, units: int = UNITS, attention_dim: int = ATTENTION_DIM,
                 penalty: float = ATTENTION_PENALTY, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.attention_dim, self.penalty = units, attention_dim, penalty
        self.seed, seeds = seed, _Seeds(seed)  # its initial weights
        same = {"dtype": self.dtype_policy}  # its parts compute as it does (mixed precision)
        self.grid_keys = seeds.dense(attention_dim, name="grid_keys", **same)  # W_a, per image
        self.state_query = seeds.dense(attention_dim, use_bias=False, name="state_query",
                                       **same)  # W_h
        self.score = seeds.dense(1, use_bias=False, name="score", **same)  # v
        self.cell = layers.LSTMCell(units, kernel_initializer=seeds.glorot(),
                                    recurrent_initializer=seeds.orthogonal(),
                                    seed=seeds.number(), name="cell", **same)

    def build(self, embedded_shape, tokens_shape, grid_shape, h_shape, c_shape):
        self.grid_keys.build(grid_shape)
        self.state_query.build((None, self.units))
        self.score.build((None, None, self.attention_dim))
        self.cell.build((None, embedded_shape[-1] + grid_shape[-1]))

    def attend(self, keys, grid, h):
        """Weights ``(batch, L)`` and context ``(batch, C)`` for state ``h``."""
        scores = self.score(ops.tanh(keys + self.state_query(h)[:, None, :]))[..., 0]
        alpha = ops.softmax(scores, axis=-1)
        return ops.einsum("bl,blc->bc", alpha, grid), alpha

    def step(self, embedded_word, keys, grid, h, c):
        """One word: look, then read ``[word, context]``. Returns h, c, context, alpha."""
        context, alpha = self.attend(keys, grid, h)
        _, (h, c) = self.cell(ops.concatenate([embedded_word, context], axis=-1), [h, c])
        return h, c, context, alpha

    def call(self, embedded, tokens, grid, h, c, training=False):
        keys = self.grid_keys(grid)  # W_a a_i does not depend on the step: computed once

        def one_word(previous, word):  # previous: the last step's (h, c, context, alpha)
            return self.step(word, keys, grid, previous[0], previous[1])

        start = (h, c, ops.zeros_like(grid[:, 0, :]), ops.zeros_like(keys[:, :, 0]))
        time_major = ops.transpose(embedded, (1, 0, 2))
        outputs = tf.scan(one_word, time_major, initializer=start)  # loops over time
        states, _, contexts, alphas = (ops.transpose(x, (1, 0, 2)) for x in outputs)
        if training and self.penalty:
            # in float32, as the loss it joins, even when the layer computes in 16 bits
            alphas32 = ops.cast(alphas, "float32")
            self.add_loss(self.penalty * ops.mean(coverage_penalty(alphas32, tokens)))
        return states, contexts, alphas

    def compute_mask(self, *args, **kwargs):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "attention_dim": self.attention_dim, "penalty": self.penalty, "seed": self.seed}


def coverage_penalty(alphas, tokens):
    """The doubly stochastic attention penalty of each caption, ``(batch,)``.

    Each step's weights sum to one over the ``L`` positions; Xu et al. also want
    each position's weights to sum to about one over the caption's words,
    ``sum_i (1 - sum_t alpha_ti) ** 2``. With ``T`` words and ``L`` = 196
    positions that sum cannot fall below ``(L - T) ** 2 / L``, a constant;
    here it is taken without that constant, which leaves the spread of the
    coverage, ``sum_i (sum_t alpha_ti - T / L) ** 2``: zero when the caption's
    attention covers the grid evenly, about ``T ** 2`` when every word looks at
    the same spot. Divided by ``T``, as the loss is a mean per word. Padding
    steps (token 0) do not count.
    """
    real = ops.cast(ops.not_equal(tokens, 0), alphas.dtype)  # (batch, T)
    words = ops.sum(real, axis=1)
    coverage = ops.sum(alphas * real[:, :, None], axis=1)  # (batch, L): how much each was seen
    even = words[:, None] / ops.cast(ops.shape(alphas)[-1], alphas.dtype)
    return ops.sum(ops.square(coverage - even), axis=1) / ops.maximum(words, 1.0)


def _normal(seeds: _Seeds) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.02, seed=seeds.number())


@keras.saving.register_keras_serializable(package="captioning")
class GridPositions(layers.Layer):
    """Adds a learned position to each of the ``rows x cols`` grid cells: row vector + column
    vector, so cells of one column share a part and cells of one row another (notebook 09;
    the attention model takes it too, with ``grid_positions=True``)."""

    def __init__(self, rows: int, cols: int, dim: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.cols, self.dim, self.seed = rows, cols, dim, seed

    def build(self, input_shape):
        seeds = _Seeds(self.seed)
        self.row = self.add_weight(shape=(self.rows, self.dim), initializer=_normal(seeds),
                                   name="row")
        self.col = self.add_weight(shape=(self.cols, self.dim), initializer=_normal(seeds),
                                   name="col")

    def call(self, cells):
        table = self.row[:, None, :] + self.col[None, :, :]  # (rows, cols, dim)
        return cells + ops.reshape(table, (1, self.rows * self.cols, self.dim))

    def get_config(self) -> dict:
        return {**super().get_config(), "rows": self.rows, "cols": self.cols, "dim": self.dim,
                "seed": self.seed}


def grid_inputs(grid_shape: tuple[int, int, int],
                grid_stats: tuple[np.ndarray, np.ndarray] | None = None):
    """The inputs of a captioner that reads the grid (notebooks 08 and 09): the grid, the
    tokens, and the grid as ``rows * cols`` positions of ``C`` channels, standardised per
    channel with ``grid_stats`` = (mean, std) when given."""
    rows, cols, channels = grid_shape
    grid = keras.Input(shape=grid_shape, name="grid")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    positions = layers.Reshape((rows * cols, channels), name="positions")(grid)
    if grid_stats is not None:
        mean, std = (np.asarray(a, dtype="float32") for a in grid_stats)
        positions = layers.Normalization(mean=mean, variance=std**2, name="standardise")(positions)
    return grid, tokens, positions


def build_attention_model(
    vocab_size: int,
    grid_shape: tuple[int, int, int] = (14, 14, 512),
    units: int = UNITS,
    embedding_dim: int = EMBEDDING_DIM,
    attention_dim: int = ATTENTION_DIM,
    dropout: float = DROPOUT,
    grid_stats: tuple[np.ndarray, np.ndarray] | None = None,
    penalty: float = ATTENTION_PENALTY,
    seed: int = 0,
    name: str = "attention_captioner",
    attention_layer: type[AttentionLSTM] = AttentionLSTM,
    grid_positions: bool = False,
) -> keras.Model:
    """The attention captioner: ``[grid (batch, 14, 14, C), tokens] -> (batch, time, vocab)``.

    Same inputs and outputs as :func:`build_caption_model`, with the conv grid
    in place of ``fc2``, so it trains with the same pipeline and loss::

        grid -> 196 positions -> mean -> Dense tanh -> initial h, c
        words -> Embedding -> dropout -> AttentionLSTM (looks at the 196 positions) -+
                                          [state, context] -> dropout -> Dense relu -> softmax

    ``grid_stats`` = per-channel (mean, std) standardises the grid, as
    ``feature_stats`` does for ``fc2``. ``attention_layer`` is the recurrent
    layer's class: a subclass of :class:`AttentionLSTM` that attends another way
    (notebook 08's exercise 5) trains and decodes unchanged. ``grid_positions``
    adds a learned row and column vector to each cell (:class:`GridPositions`), so
    the model can tell where a cell is (measured in ``docs/results.md``).
    """
    if vocab_size < 5:
        raise ValueError(f"vocab_size={vocab_size}: a vocabulary has 4 special tokens plus words")
    seeds = _Seeds(seed)
    grid, tokens, positions = grid_inputs(grid_shape, grid_stats)
    if grid_positions:  # where each cell is (notebook 09): without it, a shuffled grid is the same
        rows, cols, channels = grid_shape
        positions = GridPositions(rows, cols, channels, seed=seed + 3,
                                  name="cell_positions")(positions)
    summary = layers.GlobalAveragePooling1D(name="grid_mean")(positions)
    h0 = seeds.dense(units, activation="tanh", name="init_h")(summary)
    c0 = seeds.dense(units, activation="tanh", name="init_c")(summary)

    w = seeds.embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    w = layers.Dropout(dropout, seed=seed + 1, name="word_dropout")(w)
    states, contexts, _ = attention_layer(units, attention_dim, penalty, seed=seed + 2,
                                          name="attention_lstm")(w, tokens, positions, h0, c0)

    x = layers.Concatenate(name="state_and_context")([states, contexts])
    x = layers.Dropout(dropout, seed=seed, name="output_dropout")(x)
    hidden = seeds.dense(units, activation="relu", name="decoder_dense")(x)
    # float32 even under mixed precision: the softmax and the loss keep their precision
    probs = seeds.dense(vocab_size, activation="softmax", name="next_word",
                        dtype="float32")(hidden)
    return keras.Model([grid, tokens], probs, name=name)


def attention_weights_model(model: keras.Model) -> keras.Model:
    """The same layers, returning the attention weights ``(batch, time, positions)``
    of a given caption (teacher forcing) instead of the next-word probabilities."""
    return keras.Model(model.inputs, model.get_layer("attention_lstm").output[2],
                       name="attention_weights")


def is_attention_model(model: keras.Model) -> bool:
    """Whether ``model`` was built by :func:`build_attention_model`."""
    return any(layer.name == "attention_lstm" for layer in model.layers)
