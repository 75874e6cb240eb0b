"""Writing captions with a trained model: greedy decoding and beam search (notebook 06).

The classic loop calls ``model.predict`` once per word per image, each time
re-reading the whole prefix padded to the maximum length. Here the trained
layers are called one step at a time on a whole batch of images, and the LSTM's
state is carried from one word to the next, so each step costs one LSTM step,
not a pass over the prefix.

* Greedy decoding takes the most probable word at every step.
* Beam search keeps the ``beam_size`` most probable partial captions of each
  image and extends all of them. Long captions collect more negative log
  probabilities, so the final choice can divide the score by
  ``length ** alpha`` (length normalisation; ``alpha=0`` turns it off).

Both stop at ``<end>`` or after ``vocab.max_length - 1`` tokens. ``<pad>``,
``<unk>`` and ``<start>`` are never chosen, so a caption never shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers.config import write_atomically
from helpers.text import END, PAD, START, UNK, Vocabulary

_NEVER = (PAD, UNK, START)  # tokens a caption may not contain


@dataclass
class Decoded:
    """Captions of a batch of images: text, token ids (up to ``<end>``) and log probabilities."""

    captions: list[str]
    tokens: list[list[int]]
    scores: np.ndarray  # sum of log probabilities of the chosen tokens, <end> included

    def __len__(self) -> int:
        return len(self.captions)


class StepDecoder:
    """The layers of a trained merge model (:func:`helpers.models.build_caption_model`), one word
    at a time.

    ``image(features)`` runs the image branch once per image; ``step(words,
    image, h, c)`` feeds one word per row and returns the log probabilities of
    the next word together with the new LSTM state. Dropout is off.
    """

    def __init__(self, model: keras.Model, vocab: Vocabulary):
        names = {layer.name for layer in model.layers}
        needed = {"image_dense", "embedding", "lstm", "decoder_dense", "next_word"}
        if not needed <= names:
            raise ValueError(f"{model.name} is not a merge captioner: it lacks the layers "
                             f"{sorted(needed - names)} (build it with build_caption_model)")
        from helpers.training import check_vocabulary

        check_vocabulary(model, vocab)
        self.vocab = vocab
        self.units = model.get_layer("lstm").units
        layer = model.get_layer
        self._standardise = layer("standardise") if "standardise" in names else None
        self._image_dense, self._embedding = layer("image_dense"), layer("embedding")
        self._cell, self._hidden, self._out = layer("lstm").cell, layer("decoder_dense"), layer(
            "next_word")
        banned = np.zeros(len(vocab), np.float32)
        banned[[vocab.index[t] for t in _NEVER]] = -np.inf
        self._banned = tf.constant(banned)

    @tf.function(reduce_retracing=True)
    def image(self, features):
        x = self._standardise(features) if self._standardise is not None else features
        return self._image_dense(x)

    @tf.function(reduce_retracing=True)
    def step(self, words, image, h, c):
        """One word per row, with the image vector and state -> log p of the next word, h, c."""
        x = tf.gather(self._embedding.embeddings, words)  # the embedding, without its mask
        out, (h, c) = self._cell(x, [h, c], training=False)
        hidden = self._hidden(out + image)
        logits = tf.matmul(hidden, self._out.kernel) + self._out.bias
        return tf.nn.log_softmax(logits) + self._banned, h, c

    def zeros(self, rows: int):
        return tf.zeros((rows, self.units)), tf.zeros((rows, self.units))


def _finish(vocab: Vocabulary, rows: np.ndarray, scores: np.ndarray) -> Decoded:
    end = vocab.index[END]
    tokens = []
    for row in rows:
        ids = [int(i) for i in row]
        tokens.append(ids[: ids.index(end) + 1] if end in ids else ids)
    return Decoded([vocab.decode(t) for t in tokens], tokens, np.asarray(scores, np.float64))


def greedy_decode(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                  max_length: int | None = None, batch_size: int = 1000) -> Decoded:
    """The most probable word at each step, for every row of ``features`` at once."""
    decoder = StepDecoder(model, vocab)
    steps = (max_length or vocab.max_length) - 1
    start, end = vocab.index[START], vocab.index[END]
    all_rows, all_scores = [], []
    for first in range(0, len(features), batch_size):
        image = decoder.image(tf.constant(features[first:first + batch_size], tf.float32))
        rows = int(image.shape[0])
        h, c = decoder.zeros(rows)
        words = tf.fill((rows,), start)
        out = np.zeros((rows, steps), np.int64)
        scores = np.zeros(rows)
        done = np.zeros(rows, bool)
        for t in range(steps):
            logp, h, c = decoder.step(words, image, h, c)
            best = tf.argmax(logp, axis=1, output_type=tf.int32)
            chosen = best.numpy()
            scores += np.where(done, 0.0, tf.reduce_max(logp, axis=1).numpy())
            out[:, t] = np.where(done, 0, chosen)
            done |= chosen == end
            if done.all():
                break
            words = best
        all_rows.extend(out)
        all_scores.append(scores)
    return _finish(vocab, np.array(all_rows), np.concatenate(all_scores))


def beam_search(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                beam_size: int = 3, alpha: float = 0.0, max_length: int | None = None,
                batch_size: int = 500) -> Decoded:
    """The ``beam_size`` best partial captions of every image, extended together.

    The returned caption of each image is the finished beam with the best
    ``score / length ** alpha`` (length in tokens, ``<end>`` included); its
    score is the plain sum of log probabilities. ``beam_size=1`` is greedy
    decoding.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, not {beam_size}")
    decoder = StepDecoder(model, vocab)
    steps = (max_length or vocab.max_length) - 1
    k, size = beam_size, len(vocab)
    start, end, pad = vocab.index[START], vocab.index[END], vocab.index[PAD]
    # A finished beam may only be followed by <pad>, at no cost: it stays as it is.
    after_end = np.full(size, -np.inf, np.float32)
    after_end[pad] = 0.0
    all_rows, all_scores = [], []
    for first in range(0, len(features), batch_size):
        image = decoder.image(tf.constant(features[first:first + batch_size], tf.float32))
        n = int(image.shape[0])
        image = tf.repeat(image, k, axis=0)  # row b * k + j is beam j of image b
        h, c = decoder.zeros(n * k)
        words = tf.fill((n * k,), start)
        scores = np.full((n, k), -np.inf)
        scores[:, 0] = 0.0  # one live beam at the start, so the first words differ
        history = np.zeros((n, k, 0), np.int64)
        finished = np.zeros((n, k), bool)
        lengths = np.zeros((n, k), np.int64)
        for _ in range(steps):
            logp, h, c = decoder.step(words, image, h, c)
            logp = logp.numpy().reshape(n, k, size)
            logp[finished] = after_end
            total = (scores[:, :, None] + logp).reshape(n, k * size)
            top = np.argpartition(-total, k - 1, axis=1)[:, :k]  # the k best, unordered
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(total, top, 1), 1), 1)
            parent, word = top // size, top % size
            scores = np.take_along_axis(total, top, 1)
            history = np.concatenate(
                [np.take_along_axis(history, parent[:, :, None], 1), word[:, :, None]], axis=2)
            was_finished = np.take_along_axis(finished, parent, 1)
            lengths = np.take_along_axis(lengths, parent, 1) + ~was_finished
            finished = was_finished | (word == end)
            rows = (np.arange(n)[:, None] * k + parent).reshape(-1)
            h, c = tf.gather(h, rows), tf.gather(c, rows)
            words = tf.constant(word.reshape(-1), tf.int32)
            if finished[np.isfinite(scores)].all():
                break
        ranked = scores / np.maximum(lengths, 1) ** alpha if alpha else scores
        best = np.argmax(ranked, axis=1)
        all_rows.extend(history[np.arange(n), best])
        all_scores.append(scores[np.arange(n), best])
    return _finish(vocab, np.array(all_rows), np.concatenate(all_scores))


def caption_images(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                   method: str = "greedy", **options) -> Decoded:
    """Decode with ``method`` = ``"greedy"`` or ``"beam<k>"`` (for example ``"beam3"``)."""
    if method == "greedy":
        return greedy_decode(model, features, vocab, **options)
    if method.startswith("beam") and method[4:].isdigit():
        return beam_search(model, features, vocab, beam_size=int(method[4:]), **options)
    raise ValueError(f"unknown decoding method {method!r}: use 'greedy' or 'beam3', 'beam5', ...")


def classic_greedy_decode(model: keras.Model, features: np.ndarray, vocab: Vocabulary) -> list[str]:
    """The classic tutorials' loop, for comparison: one ``predict`` per word per image.

    Each call re-reads the whole prefix, padded to the maximum length. Slow on
    purpose; the benchmark and notebook 06 time it against :func:`greedy_decode`.
    """
    from helpers.models import next_word_model

    classic = next_word_model(model)
    banned = [vocab.index[t] for t in _NEVER]
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


def save_captions(run_dir: str | Path, split: str, names: list[str],
                  by_method: dict[str, Decoded]) -> Path:
    """Write ``captions_<split>.json``: for each image, its caption by each decoding method."""
    table = {name: {m: d.captions[i] for m, d in by_method.items()}
             for i, name in enumerate(names)}
    return write_atomically(Path(run_dir) / f"captions_{split}.json", json.dumps(table, indent=1))
