"""Notebook 05 (training), exercises 1, 3 and 4."""

from __future__ import annotations

import keras
import numpy as np


def best_epoch(history: list[dict]) -> int:
    """Exercise 1: the epoch with the lowest validation loss (the one ``model.keras`` keeps)."""
    return int(min(history, key=lambda row: row["val_loss"])["epoch"])


def dropout_changes_outputs(model: keras.Model, features, tokens) -> bool:
    """Exercise 3: whether two training-mode calls on the same batch give different outputs.

    True with dropout (a new random mask each call), False with ``dropout=0.0``;
    with ``training=False`` dropout is always off.
    """
    first = np.asarray(model([features, tokens], training=True))
    second = np.asarray(model([features, tokens], training=True))
    return not np.allclose(first, second)


def padding_words(lengths: np.ndarray, batch_size: int, order: np.ndarray) -> int:
    """Notebook 05's count: padding positions in one epoch, each batch padded to its longest."""
    batches = np.array_split(lengths[order], range(batch_size, len(lengths), batch_size))
    return sum(int(b.max() * len(b) - b.sum()) for b in batches)


def windowed_order(lengths: np.ndarray, batch_size: int, window: int, seed: int = 0) -> np.ndarray:
    """Exercise 4: shuffle, then sort by length inside each window of ``window`` batches.

    Batches still change from epoch to epoch (another ``seed``), but the
    captions of one batch have similar lengths, so little padding is left.
    """
    order = np.random.default_rng(seed).permutation(len(lengths))
    size = window * batch_size
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    return np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])


def padding_by_window(lengths: np.ndarray, batch_size: int, windows=(1, 4, 16),
                      seed: int = 0) -> dict[str, int]:
    """Exercise 4: padding words per epoch, shuffled, windowed (each size) and sorted."""
    lengths = np.asarray(lengths)
    shuffled = np.random.default_rng(seed).permutation(len(lengths))
    counts = {"shuffled": padding_words(lengths, batch_size, shuffled)}
    for window in windows:
        counts[f"window {window}"] = padding_words(
            lengths, batch_size, windowed_order(lengths, batch_size, window, seed))
    counts["sorted"] = padding_words(lengths, batch_size, np.argsort(lengths, kind="stable"))
    return counts
