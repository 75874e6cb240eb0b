"""Answers in code to notebook 09's exercises (the transformer); see 09_transformer.md."""

from __future__ import annotations

import keras
import numpy as np

from helpers.transformer import decoder_blocks


def mirror_change(model: keras.Model, grids: np.ndarray, tokens: np.ndarray,
                  zero_positions: bool = False) -> float:
    """Exercise 1: the largest change of a next-word probability when the grids are mirrored.

    ``zero_positions``: first set the grid's position tables to zero (the model's
    own weights are restored afterwards).
    """
    positions = model.get_layer("grid_positions")
    saved = [positions.row.numpy(), positions.col.numpy()]
    try:
        if zero_positions:
            positions.row.assign(np.zeros_like(saved[0]))
            positions.col.assign(np.zeros_like(saved[1]))
        as_is = model.predict([grids, tokens], verbose=0)
        mirrored = model.predict([grids[:, :, ::-1, :], tokens], verbose=0)
    finally:
        positions.row.assign(saved[0])
        positions.col.assign(saved[1])
    return float(np.abs(as_is - mirrored).max())


def head_maps(model: keras.Model, grids: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Exercise 2: the last block's cross-attention of every head, ``(batch, heads, T, cells)``."""
    encode = keras.Model(model.inputs, [model.get_layer("word_dropout").output,
                                        model.get_layer("memory_norm").output])
    words, memory = encode([grids, tokens])
    blocks = decoder_blocks(model.get_layer)
    for block in blocks[:-1]:
        words, _ = block(words, memory, tokens)
    last = blocks[-1]
    time = tokens.shape[1]
    mask = np.tril(np.ones((time, time), bool))[None] & (tokens != 0)[:, None, :]
    words = last.norms[0](words + last.self_attention(words, words, attention_mask=mask))
    _, scores = last.cross_attention(words, memory, return_attention_scores=True)
    return np.asarray(scores)
