"""A transformer captioner: a causal decoder that cross-attends to the grid (notebook 09).

The original tutorial lists a transformer decoder among its "future
enhancements"; TensorFlow's and Keras' captioning tutorials teach one. It
reads the same conv grid as the attention model of notebook 08, with two
changes that matter for saying *where* things are:

* every grid cell gets a learned **2-D position embedding** (a vector for its
  row plus one for its column), so the decoder can tell left from right;
* the words do not pass through an LSTM: each word looks at all the words
  before it (causal self-attention) and at every grid cell (cross-attention),
  in ``blocks`` layers::

    grid (14, 14, C) -> 196 cells -> Dense d -> + row/column position -> LayerNorm = memory
    words -> Embedding d -> + word position -> dropout -> [DecoderBlock] x blocks -> softmax
    DecoderBlock: causal self-attention, add & norm -> cross-attention to memory, add & norm
                  -> feed-forward, add & norm (the post-norm layout of "Attention is all
                  you need" and of the Keras example)

Same inputs and outputs as the other captioners (``[grid, tokens] -> (batch,
time, vocab)``), so the same pipeline, masked loss, checkpoints and decoders
(:class:`helpers.decoding.TransformerStepDecoder`) serve it. Its layers are
registered with Keras, so a saved model loads anywhere.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from helpers.models import GridPositions, _normal, _Seeds, grid_inputs  # noqa: F401

DIM = 128       # width of every vector: words, grid cells, attention
HEADS = 4       # attention heads per attention layer
FF_DIM = 512    # hidden width of each block's feed-forward part
BLOCKS = 2      # decoder blocks
DROPOUT = 0.1   # the transformer's usual rate (the LSTM models use 0.5)


@keras.saving.register_keras_serializable(package="captioning")
class WordPositions(layers.Layer):
    """Adds a learned position vector to each word: position 0 is ``<start>``."""

    def __init__(self, max_length: int, dim: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.max_length, self.dim, self.seed = max_length, dim, seed

    def build(self, input_shape):
        self.table = self.add_weight(shape=(self.max_length, self.dim),
                                     initializer=_normal(_Seeds(self.seed)), name="table")

    def call(self, words):
        return words + self.table[None, : ops.shape(words)[1], :]

    def get_config(self) -> dict:
        return {**super().get_config(), "max_length": self.max_length, "dim": self.dim,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="captioning")
class DecoderBlock(layers.Layer):
    """One decoder block. ``call(words, memory, tokens)`` returns the new word vectors and the
    cross-attention weights ``(batch, time, cells)``, averaged over the heads.

    ``tokens`` gives the masks: a word sees itself and the real words before it
    (causal, and never ``<pad>``, id 0); every word sees every grid cell.
    """

    def __init__(self, dim: int = DIM, heads: int = HEADS, ff_dim: int = FF_DIM,
                 dropout: float = DROPOUT, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_dim, self.dropout, self.seed = (
            dim, heads, ff_dim, dropout, seed)
        seeds = _Seeds(seed)
        same = {"dtype": self.dtype_policy}  # its parts compute as it does (mixed precision)

        def attention(name):
            return layers.MultiHeadAttention(heads, key_dim=dim // heads, dropout=dropout,
                                             kernel_initializer=seeds.glorot(),
                                             seed=seeds.number(), name=name, **same)

        self.self_attention = attention("self_attention")
        self.cross_attention = attention("cross_attention")
        self.feed_forward = seeds.dense(ff_dim, activation="relu", name="feed_forward", **same)
        self.back = seeds.dense(dim, name="back_to_dim", **same)
        self.norms = [layers.LayerNormalization(epsilon=1e-5, name=f"norm_{i}", **same)
                      for i in (1, 2, 3)]
        self.drop = layers.Dropout(dropout, seed=seeds.number(), name="dropout", **same)

    def build(self, words_shape, memory_shape, tokens_shape):
        self.self_attention.build(words_shape, words_shape)
        self.cross_attention.build(words_shape, memory_shape)
        self.feed_forward.build(words_shape)
        self.back.build((*words_shape[:-1], self.ff_dim))
        for norm in self.norms:
            norm.build(words_shape)

    def call(self, words, memory, tokens, training=False):
        position = ops.arange(ops.shape(tokens)[1])
        causal = position[:, None] >= position[None, :]  # a lower triangle of True
        real = ops.not_equal(tokens, 0)
        mask = ops.logical_and(causal[None, :, :], real[:, None, :])  # query t sees key s <= t
        seen = self.self_attention(words, words, attention_mask=mask, training=training)
        words = self.norms[0](words + seen)
        looked, weights = self.cross_attention(words, memory, return_attention_scores=True,
                                               training=training)
        words = self.norms[1](words + looked)
        thought = self.back(self.drop(self.feed_forward(words), training=training))
        words = self.norms[2](words + self.drop(thought, training=training))
        return words, ops.mean(weights, axis=1)

    def compute_mask(self, *args, **kwargs):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "heads": self.heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout, "seed": self.seed}


def build_transformer_model(
    vocab_size: int,
    grid_shape: tuple[int, int, int],
    max_length: int,
    dim: int = DIM,
    heads: int = HEADS,
    ff_dim: int = FF_DIM,
    blocks: int = BLOCKS,
    dropout: float = DROPOUT,
    grid_stats: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    name: str = "transformer_captioner",
) -> keras.Model:
    """The transformer captioner: ``[grid (batch, rows, cols, C), tokens] -> (batch, time, vocab)``.

    ``max_length`` is the vocabulary's ``max_length`` (the longest caption the
    word positions must cover); ``grid_stats`` standardises the grid per
    channel, as for the attention model.
    """
    if vocab_size < 5:
        raise ValueError(f"vocab_size={vocab_size}: a vocabulary has 4 special tokens plus words")
    if dim % heads:
        raise ValueError(f"dim={dim} must be a multiple of heads={heads}")
    seeds = _Seeds(seed)
    rows, cols, _ = grid_shape
    grid, tokens, cells = grid_inputs(grid_shape, grid_stats)
    memory = seeds.dense(dim, name="grid_projection")(cells)
    memory = GridPositions(rows, cols, dim, seed=seed + 1, name="grid_positions")(memory)
    memory = layers.LayerNormalization(epsilon=1e-5, name="memory_norm")(memory)

    words = seeds.embedding(vocab_size, dim, name="embedding")(tokens)  # masks come from tokens
    words = WordPositions(max_length, dim, seed=seed + 2, name="word_positions")(words)
    words = layers.Dropout(dropout, seed=seed + 3, name="word_dropout")(words)
    for i in range(blocks):
        words, _ = DecoderBlock(dim, heads, ff_dim, dropout, seed=seed + 10 + i,
                                name=f"decoder_block_{i + 1}")(words, memory, tokens)
    # small first weights: an untrained model guesses about uniformly, ln(vocabulary) of loss
    probs = layers.Dense(vocab_size, activation="softmax", kernel_initializer=_normal(seeds),
                         name="next_word", dtype="float32")(words)  # float32 when mixed
    return keras.Model([grid, tokens], probs, name=name)


def is_transformer_model(model: keras.Model) -> bool:
    """Whether ``model`` was built by :func:`build_transformer_model`."""
    return any(layer.name == "grid_positions" for layer in model.layers)


def decoder_blocks(get_layer) -> list[DecoderBlock]:
    """The decoder blocks of a model, in order, from its ``get_layer`` (a decoder keeps the
    layers, never the model)."""
    blocks = []
    while True:
        try:
            blocks.append(get_layer(f"decoder_block_{len(blocks) + 1}"))
        except ValueError:
            return blocks


def cross_attention_model(model: keras.Model) -> keras.Model:
    """The same layers, returning the last block's cross-attention weights ``(batch, time,
    cells)`` for a given caption (teacher forcing), as notebook 08's maps are drawn."""
    return keras.Model(model.inputs, decoder_blocks(model.get_layer)[-1].output[1],
                       name="cross_attention_weights")
