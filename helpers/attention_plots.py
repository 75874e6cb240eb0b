"""Where the attention model looks: attention maps on the picture, word by word (notebook 08).

Each function returns a matplotlib Figure, as in :mod:`helpers.plots`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from helpers.plots import picture_array, save_figure


def upsample_attention(weights: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """One attention map (``L`` = side x side weights, row by row) as an image of ``size``
    (``height, width``, or one number for a square).

    Each grid cell covers a ``1 / side`` of the picture's height and width; the
    map is smoothed (bilinear) so it reads as a heat map, and scaled to 0..1.
    """
    height, width = (size, size) if isinstance(size, int) else size
    weights = np.asarray(weights, dtype=np.float32)
    side = int(round(np.sqrt(weights.size)))
    if side * side != weights.size:
        raise ValueError(f"an attention map of {weights.size} weights is not a square grid")
    grid = weights.reshape(side, side)
    peak = grid.max()
    picture = Image.fromarray(grid / peak if peak > 0 else grid, mode="F")
    return np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))


def plot_attention(image, words: Sequence[str], weights: np.ndarray, ncols: int = 5,
                   title: str = "", mark: int | None = None,
                   run_dir: str | Path | None = None, name: str = "attention") -> Figure:
    """The picture, then once per word with the attention map it was chosen with (notebook 08).

    ``weights[j]`` is the attention map of ``words[j]`` (from
    :func:`helpers.decoding.greedy_decode` on an attention model). The first
    panel is the picture as it is; in each word's panel the picture is in grey
    (so the map's colours do not mix with the objects') under its map,
    upsampled to the picture's size. One colour bar serves every panel: the
    share of the word's attention that one grid position got, from 0 to the
    largest of the caption, with a mark at a uniform map's share (1 / positions).
    ``mark`` frames one word's panel in red. Saved to
    ``<run_dir>/figures/<name>.png`` when given ``run_dir``.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if len(words) != len(weights):
        raise ValueError(f"{len(words)} words for {len(weights)} attention maps: give one each")
    picture = picture_array(image)
    grey = picture.astype(np.float32).mean(axis=-1) / 255.0
    norm = plt.Normalize(0.0, float(weights.max()) or 1.0)
    cmap = plt.get_cmap("viridis")
    nrows = -(-(len(words) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols + 1.2, 2.5 * nrows + 0.6),
                             dpi=80, squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(picture)
    axes.flat[0].set_title("the picture", fontsize=10)
    for j, (ax, word, weight) in enumerate(zip(axes.flat[1:], words, weights)):
        share = upsample_attention(weight, picture.shape[:2]) * weight.max()
        heat = cmap(norm(share))
        heat[..., 3] = 0.6  # the same everywhere: a colour means one share, and the objects show
        ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
        ax.imshow(heat)
        ax.set_title(textwrap.shorten(word, 14, placeholder="…"), fontsize=10,
                     color="tab:red" if j == mark else "black",
                     fontweight="bold" if j == mark else "normal")
        if j == mark:
            ax.axis("on")
            ax.set(xticks=[], yticks=[])
            for spine in ax.spines.values():
                spine.set(color="tab:red", linewidth=3)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8,
                       aspect=30, format=lambda value, _: f"{value:.0%}")
    bar.ax.axhline(1 / weights.shape[1], color="white", linewidth=2.5)
    bar.set_label("share of the word's attention\non one position (white: uniform)", fontsize=9)
    if title:
        fig.suptitle(textwrap.fill(title, int(10 * ncols + 5)), fontsize=10)
    if run_dir is not None:
        save_figure(fig, run_dir, name)
    return fig
