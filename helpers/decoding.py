"""Writing captions with a trained model: greedy decoding and beam search (notebook 06).

The classic loop calls ``model.predict`` once per word per image, each time
re-reading the whole prefix padded to the maximum length. Here the trained
layers are called one step at a time on a whole batch of images
(:mod:`helpers.step_decoders`), and the LSTM's state is carried from one word
to the next, so each step costs one LSTM step, not a pass over the prefix.

* Greedy decoding takes the most probable word at every step.
* Beam search keeps the ``beam_size`` most probable partial captions of each
  image and extends all of them. Long captions collect more negative log
  probabilities, so the final choice can divide the score by
  ``length ** length_penalty`` (length normalisation; ``length_penalty=0``
  turns it off). ``alpha`` in this module means attention weights only.

Both stop at ``<end>`` or after ``vocab.max_length - 1`` tokens. ``<pad>``,
``<unk>`` and ``<start>`` are never chosen, so a caption never shows them.

The same two searches decode the attention model of notebook 08 and the
transformer of notebook 09: their step decoders carry each image's grid
instead of one image vector, and every caption comes back with the attention
map of each word.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from helpers.step_decoders import (  # noqa: F401  (decoder_for, NEVER_CHOSEN: used from here too)
    NEVER_CHOSEN,
    AttentionStepDecoder,
    StepDecoder,
    decoder_for,
)
from helpers.text import END, START, Vocabulary


@dataclass
class Decoded:
    """Captions of a batch of images: text, token ids (up to ``<end>``) and log probabilities.

    For an attention model (notebook 08), ``attention[i]`` holds the attention
    weights of caption ``i``: one row per token of ``tokens[i]``, one column per
    grid position.
    """

    captions: list[str]
    tokens: list[list[int]]
    scores: np.ndarray  # sum of log probabilities of the chosen tokens, <end> included
    attention: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.captions)


def _rows(x, index):
    """Rows ``index`` of a tensor, or of each tensor of a tuple (an image's state)."""
    return tf.nest.map_structure(lambda t: tf.gather(t, index), x)


def _finish(vocab: Vocabulary, rows: np.ndarray, scores: np.ndarray,
            alphas: np.ndarray | None = None) -> Decoded:
    end = vocab.index[END]
    tokens = []
    for row in rows:
        ids = [int(i) for i in row]
        tokens.append(ids[: ids.index(end) + 1] if end in ids else ids)
    attention = None if alphas is None else [a[: len(t)] for a, t in zip(alphas, tokens)]
    return Decoded([vocab.decode(t) for t in tokens], tokens, np.asarray(scores, np.float64),
                   attention)


def _decode(model, features, vocab, max_length, batch_size, decode_chunk) -> Decoded:
    """Run ``decode_chunk(decoder, image, h, c, steps)`` on ``batch_size`` images at a time.

    An attention model's image state is its whole grid, so it decodes 100
    images at a time unless told otherwise.
    """
    decoder = decoder_for(model, vocab)
    wanted, given = tuple(model.inputs[0].shape[1:]), tuple(features.shape[1:])
    if given != wanted:
        attention = isinstance(decoder, AttentionStepDecoder)
        raise ValueError(
            f"{model.name} takes features of shape {wanted} per image, not {given}: "
            + ("give it the conv grid (run.split(..., grid=True).features)" if attention
               else "give it fc2 (run.split(...).features), not the grid"))
    batch_size = batch_size or (100 if isinstance(decoder, AttentionStepDecoder) else 1000)
    steps = (max_length or vocab.max_length) - 1
    rows, scores, alphas = [], [], []
    for first in range(0, len(features), batch_size):
        image, h, c = decoder.start(tf.constant(features[first:first + batch_size], tf.float32))
        chunk_rows, chunk_scores, chunk_alphas = decode_chunk(decoder, image, h, c, steps)
        rows.extend(chunk_rows)
        scores.append(chunk_scores)
        alphas.extend(chunk_alphas if chunk_alphas is not None else [])
    return _finish(vocab, np.array(rows), np.concatenate(scores), alphas or None)


def greedy_decode(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                  max_length: int | None = None, batch_size: int | None = None) -> Decoded:
    """The most probable word at each step, for every row of ``features`` at once.

    ``features``: ``fc2`` rows for a merge model, grids for an attention model.
    Images whose caption has ended leave the batch, so the last steps only
    compute the few captions still running.
    """
    return _decode(model, features, vocab, max_length, batch_size, _greedy_chunk)


def _greedy_chunk(decoder: StepDecoder, image, h, c, steps: int):
    end = decoder.vocab.index[END]
    n = int(h.shape[0])
    words = tf.fill((n,), decoder.vocab.index[START])
    out = np.zeros((n, steps), np.int64)  # 0 (<pad>) after <end>
    scores = np.zeros(n)
    alphas = None  # attention weights, (image, step, position), for an attention model
    active = np.arange(n)  # images whose caption is still running
    for t in range(steps):
        best, best_logp, h, c, alpha = decoder.greedy_step(words, image, h, c)
        best, best_logp = best.numpy(), best_logp.numpy()
        out[active, t] = best
        scores[active] += best_logp
        if alpha is not None:
            alphas = np.zeros((n, steps, alpha.shape[1]), np.float32) if alphas is None else alphas
            alphas[active, t] = alpha.numpy()
        running = best != end
        if not running.all():
            if not running.any():
                break
            keep = tf.constant(np.flatnonzero(running))
            active = active[running]
            image, h, c = _rows((image, h, c), keep)
            best = best[running]
        words = tf.constant(best, tf.int32)
    return out, scores, alphas


def beam_search(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                beam_size: int = 3, length_penalty: float = 0.0,
                max_length: int | None = None,
                batch_size: int | None = None) -> Decoded:
    """The ``beam_size`` best partial captions of every image, extended together.

    The returned caption of each image is the finished beam with the best
    ``score / length ** length_penalty`` (length in tokens, ``<end>`` included); its
    score is the plain sum of log probabilities. ``beam_size=1`` is greedy
    decoding. An image leaves the batch when all its beams have ended or, without
    length normalisation, as soon as its best ended caption is more probable than
    every running one (a running caption can only lose probability).
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, not {beam_size}")

    def chunk(decoder, image, h, c, steps):
        return _beam_chunk(decoder, image, h, c, steps, beam_size, length_penalty)

    return _decode(model, features, vocab, max_length, batch_size, chunk)


def _beam_chunk(decoder: StepDecoder, image, h, c, steps: int, k: int,
                length_penalty: float):
    vocab = decoder.vocab
    end = vocab.index[END]
    n = int(h.shape[0])
    # First step: one beam per image, its k best first words start the k beams.
    logp, h, c, weights = decoder.step(tf.fill((n,), vocab.index[START]), image, h, c)
    top_logp, top_words = tf.math.top_k(logp, min(k, len(vocab)))
    scores = np.full((n, k), -np.inf)  # beams beyond the vocabulary's size stay empty
    scores[:, : top_logp.shape[1]] = top_logp.numpy()
    history = np.zeros((n, k, steps), np.int64)
    history[:, : top_words.shape[1], 0] = top_words.numpy()
    looked = None  # attention weights of each beam's words, (image, beam, step, position)
    if weights is not None:
        looked = np.zeros((n, k, steps, weights.shape[1]), np.float32)
        looked[:, :, 0] = weights.numpy()[:, None, :]
    finished = history[:, :, 0] == end
    lengths = np.ones((n, k), np.int64)
    image = tf.nest.map_structure(lambda x: tf.repeat(x, k, axis=0), image)  # row i*k+j: beam j
    h, c = tf.repeat(h, k, axis=0), tf.repeat(c, k, axis=0)
    words = tf.constant(history[:, :, 0].reshape(-1), tf.int32)
    active = np.arange(n)
    for t in range(1, steps):
        done = _beam_done(scores[active], finished[active], length_penalty)
        if done.all():
            break
        if done.any():  # drop the finished images' rows
            keep = np.flatnonzero(np.repeat(~done, k))
            image, h, c, words = _rows((image, h, c, words), keep)
            active = active[~done]
        top_scores, top, h, c, weights = decoder.beam_step(
            words, image, h, c, tf.constant(scores[active], tf.float32),
            tf.constant(finished[active]), k)
        top = top.numpy()
        parent, word = top // len(vocab), top % len(vocab)  # which beam, which next word
        rows = np.arange(len(active))[:, None]
        was_finished = finished[active][rows, parent]
        history[active] = history[active][rows, parent]
        history[active, :, t] = np.where(was_finished, 0, word)
        if looked is not None:  # a new beam inherits its parent's weights, and what it saw now
            seen = weights.numpy().reshape(len(active), k, -1)[rows, parent]
            looked[active] = looked[active][rows, parent]
            looked[active, :, t] = seen
        lengths[active] = lengths[active][rows, parent] + ~was_finished
        finished[active] = was_finished | (word == end)
        scores[active] = top_scores.numpy()
        beams = tf.constant((rows * k + parent).reshape(-1))
        h, c = tf.gather(h, beams), tf.gather(c, beams)
        words = tf.constant(word.reshape(-1), tf.int32)
    ranked = scores / np.maximum(lengths, 1) ** length_penalty if length_penalty else scores
    best = np.argmax(ranked, axis=1)
    alphas = None if looked is None else looked[np.arange(n), best]
    return history[np.arange(n), best], scores[np.arange(n), best], alphas


def _beam_done(scores: np.ndarray, finished: np.ndarray, length_penalty: float) -> np.ndarray:
    """Images whose best caption can no longer change."""
    alive = np.isfinite(scores)
    all_ended = (finished | ~alive).all(axis=1)
    if length_penalty:
        return all_ended
    best_ended = np.where(finished, scores, -np.inf).max(axis=1)
    best_running = np.where(~finished & alive, scores, -np.inf).max(axis=1)
    return all_ended | (best_ended >= best_running)


def caption_images(model: keras.Model, features: np.ndarray, vocab: Vocabulary,
                   method: str = "greedy", **options) -> Decoded:
    """Decode with ``method`` = ``"greedy"`` or ``"beam<k>"`` (for example ``"beam3"``)."""
    if method == "greedy":
        return greedy_decode(model, features, vocab, **options)
    if method.startswith("beam") and method[4:].isdigit():
        return beam_search(model, features, vocab, beam_size=int(method[4:]), **options)
    raise ValueError(f"unknown decoding method {method!r}: use 'greedy' or 'beam3', 'beam5', ...")
