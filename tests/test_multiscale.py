"""Multi-scale features for the merge model (notebook 09): fc2 and the grid pooled by quarters."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.feature_cache import CachedRows
from helpers.multiscale import feature_stats_of, multi_scale_split, pooled_grid
from helpers.text import Vocabulary
from helpers.training import CaptionData


def test_each_quarter_keeps_what_is_in_it():
    grid = np.zeros((1, 4, 6, 2), np.float32)
    grid[0, :2, :3, 0] = 1.0  # channel 0 in the top left quarter only
    grid[0, 2:, 3:, 1] = 5.0  # channel 1 in the bottom right quarter only
    pooled = pooled_grid(grid).reshape(2, 2, 2)  # (part row, part column, channel)
    np.testing.assert_array_equal(pooled[..., 0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(pooled[..., 1], [[0, 0], [0, 5]])
    mirrored = pooled_grid(grid[:, :, ::-1]).reshape(2, 2, 2)
    assert not np.array_equal(mirrored, pooled)  # left and right are told apart
    with pytest.raises(ValueError, match="5x6 grid does not split into 2x2"):
        pooled_grid(np.zeros((1, 5, 6, 2), np.float32))


def test_chunks_and_cached_rows_give_the_same_features():
    rng = np.random.default_rng(0)
    grids = rng.normal(size=(7, 4, 4, 3)).astype(np.float16)
    rows = CachedRows(grids, np.array([6, 0, 3, 1, 2, 5, 4]))
    np.testing.assert_allclose(pooled_grid(rows, chunk=3),
                               pooled_grid(grids[rows.index].astype(np.float32)), atol=1e-6)


class _Prepared:
    """Just what multi_scale_split asks of a PreparedRun."""

    def __init__(self, data: CaptionData, grids: np.ndarray):
        self.data, self.grids = data, grids

    def split(self, name: str, grid: bool = False) -> CaptionData:
        return CaptionData(self.data.split, self.data.names,
                           self.grids if grid else self.data.features,
                           self.data.image_index, self.data.sequences)


def test_fc2_and_the_pooled_grid_side_by_side():
    vocab = Vocabulary(["red", "circle"], max_length=5)
    captions = {"a.jpg": ["red circle"], "b.jpg": ["circle", "red"]}
    fc2 = np.arange(6, dtype=np.float32).reshape(2, 3)
    grids = np.ones((2, 2, 2, 4), np.float32)
    data = _Prepared(CaptionData.from_captions("train", captions, vocab, fc2), grids)
    both = multi_scale_split(data, "train")
    assert both.features.shape == (2, 3 + 4 * 4)
    np.testing.assert_array_equal(both.features[:, :3], fc2)
    assert both.names == ["a.jpg", "b.jpg"] and len(both) == 3  # the captions are unchanged
    mean, std = feature_stats_of(both)
    assert mean.shape == std.shape == (19,) and (std > 0).all()
