"""A trained captioner, one word at a time: the step decoders (notebooks 06, 08 and 09).

Greedy decoding and beam search (:mod:`helpers.decoding`) need one thing from a
model: given the words chosen so far for a batch of images, the log
probabilities of the next word. Each class here gives that for one kind of
model, from the model's own trained layers, without re-reading the caption
from its start where the model allows it:

* :class:`StepDecoder`: the merge model (notebook 04); the LSTM's state is
  carried from one word to the next;
* :class:`AttentionStepDecoder`: the attention model (notebook 08); the state
  also carries each image's grid, and each step returns where it looked;
* :class:`TransformerStepDecoder`: the transformer (notebook 09); it has no
  recurrent state, so the state is the caption so far.

:func:`decoder_for` picks the right one, once per model.
"""

from __future__ import annotations

import warnings
import weakref

import keras
import numpy as np
import tensorflow as tf

from helpers.models import check_vocabulary, is_attention_model
from helpers.text import PAD, START, UNK, Vocabulary
from helpers.transformer import decoder_blocks, is_transformer_model

NEVER_CHOSEN = (PAD, UNK, START)  # tokens a caption may not contain


class StepDecoder:
    """The layers of a trained merge model (:func:`helpers.models.build_caption_model`), one word
    at a time.

    ``start(features)`` runs the image branch once per image and gives the
    first LSTM state; ``step(words, image, h, c)`` feeds one word per row and
    returns the log probabilities of the next word, the new LSTM state and the
    attention weights (``None``: the merge model does not look at regions).
    Dropout is off. :class:`AttentionStepDecoder` does the same for the
    attention model, so both share the greedy and beam search below.
    """

    needed = {"image_dense", "embedding", "lstm", "decoder_dense", "next_word"}
    builder = "build_caption_model"

    def __init__(self, model: keras.Model, vocab: Vocabulary):
        names = {layer.name for layer in model.layers}
        if not self.needed <= names:
            raise ValueError(f"{model.name} is not a {self.builder} model: it lacks the layers "
                             f"{sorted(self.needed - names)} (build it with {self.builder})")
        check_vocabulary(model, vocab)
        self.vocab = vocab
        layer = model.get_layer
        self._standardise = layer("standardise") if "standardise" in names else None
        self._embedding, self._out = layer("embedding"), layer("next_word")
        self._hidden = layer("decoder_dense") if "decoder_dense" in names else None
        self._setup(layer)
        banned = np.zeros(len(vocab), np.float32)
        banned[[vocab.index[t] for t in NEVER_CHOSEN]] = -np.inf
        self._banned = tf.constant(banned)
        after_end = np.full(len(vocab), -np.inf, np.float32)
        after_end[vocab.index[PAD]] = 0.0
        self._after_end = tf.constant(after_end)

    def _setup(self, layer) -> None:
        self.units = layer("lstm").units
        self._image_dense, self._cell = layer("image_dense"), layer("lstm").cell

    def _next_word(self, hidden):
        hidden = self._hidden(hidden) if self._hidden is not None else hidden
        logits = tf.matmul(hidden, self._out.kernel) + self._out.bias
        return tf.nn.log_softmax(logits) + self._banned

    @tf.function(reduce_retracing=True)
    def start(self, features):
        """The image vector of each row and the first LSTM state (zeros)."""
        x = self._standardise(features) if self._standardise is not None else features
        zeros = tf.zeros((tf.shape(features)[0], self.units))
        return self._image_dense(x), zeros, zeros

    @tf.function(reduce_retracing=True)
    def step(self, words, image, h, c):
        """One word per row, with the image vector and state -> log p of the next word, h, c."""
        x = tf.gather(self._embedding.embeddings, words)  # the embedding, without its mask
        out, (h, c) = self._cell(x, [h, c], training=False)
        return self._next_word(out + image), h, c, None

    @tf.function(reduce_retracing=True)
    def greedy_step(self, words, image, h, c):
        """One greedy step: the best next word of each row and its log probability."""
        logp, h, c, alpha = self.step(words, image, h, c)
        best = tf.argmax(logp, axis=1, output_type=tf.int32)
        return best, tf.reduce_max(logp, axis=1), h, c, alpha

    @tf.function(reduce_retracing=True)
    def beam_step(self, words, image, h, c, scores, finished, k: int):
        """One beam step for ``m`` images with ``k`` beams each (rows ``i * k + j``).

        Every beam is extended by every word; a finished beam only by ``<pad>``
        at no cost, so it stays as it is. Returns the ``k`` best totals of each
        image and their positions in the flattened ``(k * vocab)`` candidates.
        """
        logp, h, c, alpha = self.step(words, image, h, c)
        size = tf.shape(logp)[1]
        logp = tf.where(tf.reshape(finished, (-1, 1)), self._after_end[None, :], logp)
        total = tf.reshape(scores, (-1, 1)) + logp
        best, top = tf.math.top_k(tf.reshape(total, (-1, k * size)), k)
        return best, top, h, c, alpha


class AttentionStepDecoder(StepDecoder):
    """The layers of a trained attention model (:func:`helpers.models.build_attention_model`),
    one word at a time (notebook 08).

    An image's state is its grid of positions and their attention keys, computed
    once; each step looks at the grid (the weights are returned), then reads the
    word and what it saw.
    """

    needed = {"positions", "embedding", "attention_lstm", "init_h", "init_c",
              "decoder_dense", "next_word"}
    builder = "build_attention_model"

    def _setup(self, layer) -> None:
        self._positions, self._lstm = layer("positions"), layer("attention_lstm")
        self._init_h, self._init_c = layer("init_h"), layer("init_c")
        self.units = self._lstm.units
        try:
            self._cell_positions = layer("cell_positions")  # built with grid_positions=True
        except ValueError:
            self._cell_positions = None

    @tf.function(reduce_retracing=True)
    def start(self, grid):
        """Each image's (keys, positions) and the first state, from the mean of the grid."""
        positions = self._positions(grid)
        if self._standardise is not None:
            positions = self._standardise(positions)
        if self._cell_positions is not None:
            positions = self._cell_positions(positions)
        summary = tf.reduce_mean(positions, axis=1)
        keys = self._lstm.grid_keys(positions)
        return (keys, positions), self._init_h(summary), self._init_c(summary)

    @tf.function(reduce_retracing=True)
    def step(self, words, image, h, c):
        """Look, read one word per row -> log p of the next word, h, c and the weights."""
        keys, positions = image
        x = tf.gather(self._embedding.embeddings, words)
        h, c, context, alpha = self._lstm.step(x, keys, positions, h, c)
        return self._next_word(tf.concat([h, context], axis=-1)), h, c, alpha


class TransformerStepDecoder(AttentionStepDecoder):
    """The layers of a trained transformer (:func:`helpers.transformer.build_transformer_model`),
    one word at a time (notebook 09).

    A transformer has no recurrent state: each step reads the whole caption so
    far. So the "state" ``h`` carried from step to step is the caption's tokens,
    ``(rows, words so far)``, and a step appends the new word and runs the
    blocks over all of it (cheap for captions of 20 words). ``c`` is unused. The
    weights returned are the last block's cross-attention for the new word.
    """

    needed = {"positions", "grid_projection", "grid_positions", "memory_norm", "embedding",
              "word_positions", "next_word"}
    builder = "build_transformer_model"

    def _setup(self, layer) -> None:
        self._positions, self._project = layer("positions"), layer("grid_projection")
        self._grid_positions, self._memory_norm = layer("grid_positions"), layer("memory_norm")
        self._word_positions = layer("word_positions")
        self._blocks = decoder_blocks(layer)

    @tf.function(reduce_retracing=True)
    def start(self, grid):
        """Each image's memory (its cells, projected and placed) and an empty caption."""
        cells = self._positions(grid)
        if self._standardise is not None:
            cells = self._standardise(cells)
        memory = self._memory_norm(self._grid_positions(self._project(cells)))
        rows = tf.shape(grid)[0]
        return memory, tf.zeros((rows, 0), tf.int32), tf.zeros((rows, 1))

    @tf.function(reduce_retracing=True)
    def step(self, words, image, h, c):
        """Append one word per row, read the caption so far -> log p of the next word."""
        tokens = tf.concat([h, words[:, None]], axis=1)
        x = self._word_positions(tf.gather(self._embedding.embeddings, tokens))
        with warnings.catch_warnings():  # the first word attends over itself alone, and Keras
            warnings.filterwarnings("ignore", "You are using a softmax over axis")  # warns
            for block in self._blocks:
                x, weights = block(x, image, tokens, training=False)
        return self._next_word(x[:, -1]), tokens, c, weights[:, -1]


_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""The decoder of each model still in use: its TensorFlow graphs are traced once, not per call."""


def decoder_for(model: keras.Model, vocab: Vocabulary) -> StepDecoder:
    """The step-by-step decoder of a merge or an attention model, built once per model.

    A decoder's steps are TensorFlow functions, traced on first use; keeping one
    decoder per model (and vocabulary) means a second decoding of the same model,
    as notebook 06 times it, runs the graphs already built instead of tracing
    them again. The decoder reads the model's own weights, so a model trained
    further is decoded with its new weights.
    """
    decoder = _DECODERS.get(model)
    if decoder is None or decoder.vocab.words != vocab.words:
        kind = (TransformerStepDecoder if is_transformer_model(model) else
                AttentionStepDecoder if is_attention_model(model) else StepDecoder)
        decoder = _DECODERS[model] = kind(model, vocab)
    return decoder
