"""Multi-scale features: `fc2` plus where things are, for the merge model (notebook 09).

The merge model reads one vector per picture, ``fc2``. The network computed it
from the whole picture at once; how much of *where* survives in it is whatever
the fully connected layers kept. The conv grid (notebook 08) still has the
places: averaging it over the four quarters of the picture (top left, top
right, bottom left, bottom right) gives ``4 x C`` numbers that say which kind
of thing is in which quarter. Concatenated with ``fc2``, this is a
**multi-scale** feature: the whole picture and a coarse map of it, from two
layers of the same encoder, fixed as before (the original tutorial's "fixed
features" stay fixed). Both come from the feature cache; nothing is extracted
again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

CELLS = 2  # the grid is averaged over CELLS x CELLS parts of the picture


def pooled_grid(grids, cells: int = CELLS, chunk: int = 256) -> np.ndarray:
    """Each grid ``(rows, cols, C)`` averaged over ``cells x cells`` equal parts, read in
    chunks: ``(images, cells * cells * C)``, part by part, top left first, row by row."""
    n, rows, cols, channels = grids.shape
    if rows % cells or cols % cells:
        raise ValueError(f"a {rows}x{cols} grid does not split into {cells}x{cells} equal parts")
    out = np.empty((n, cells * cells * channels), np.float32)
    for first in range(0, n, chunk):
        x = np.asarray(grids[np.arange(first, min(first + chunk, n))], np.float32)
        parts = x.reshape(len(x), cells, rows // cells, cells, cols // cells, channels)
        out[first:first + len(x)] = parts.mean(axis=(2, 4)).reshape(len(x), -1)
    return out


def multi_scale_split(prepared, split: str, cells: int = CELLS):
    """The captions of ``split`` with ``fc2`` and the pooled grid side by side as features.

    ``prepared`` is a :class:`helpers.pipeline.PreparedRun` whose cache holds the
    grid (``prepare(settings, grid=True)``).
    """
    vectors = prepared.split(split)
    grids = prepared.split(split, grid=True)
    assert grids.names == vectors.names, "fc2 and the grid list the images in one order"
    return replace(vectors, features=np.concatenate(
        [np.asarray(vectors.features, np.float32), pooled_grid(grids.features, cells)], axis=1))


def feature_stats_of(data) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of ``data``'s features (the training split's),
    to standardise them in the model, as ``feature_stats`` does for ``fc2``."""
    features = np.asarray(data.features, np.float32)
    return features.mean(axis=0), np.maximum(features.std(axis=0), 1e-6)
