"""Figures for every stage of the series; each function returns a matplotlib Figure.

Returning the figure (rather than calling ``plt.show()``) lets a notebook show
it, a script save it to ``runs/<dataset>/figures/``, and a test check it.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

from helpers.data import CaptionDataset
from helpers.text import clean_caption


def show_images(
    dataset: CaptionDataset,
    names: Sequence[str],
    captions: dict[str, list[str]] | None = None,
    ncols: int = 3,
    width: int = 42,
) -> Figure:
    """A grid of images, each with its captions printed below it (notebook 01).

    ``captions`` defaults to the dataset's own reference captions; later
    notebooks pass generated captions instead.
    """
    captions = captions or dataset.captions
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 6.4 * nrows), dpi=80, squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        with Image.open(dataset.image_path(name)) as image:
            ax.imshow(image.convert("RGB"))
        text = "\n".join(textwrap.fill(c, width) for c in captions[name])
        ax.set_title(name, fontsize=9)
        ax.text(0, -0.03, text, transform=ax.transAxes, va="top", fontsize=8.5)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.96, bottom=0.02, hspace=0.75, wspace=0.08)
    return fig


def plot_caption_lengths(dataset: CaptionDataset) -> Figure:
    """Histogram of caption lengths in words, after cleaning (notebook 01)."""
    lengths = [len(clean_caption(c).split()) for cs in dataset.captions.values() for c in cs]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(lengths, bins=range(0, max(lengths) + 2), color="tab:blue", edgecolor="white")
    ax.set(
        xlabel="words per caption",
        ylabel="captions",
        title=f"{dataset.name}: {len(lengths):,} captions, longest {max(lengths)} words",
    )
    fig.tight_layout()
    return fig


def plot_word_frequencies(counts: Counter, top: int = 25, title: str = "") -> Figure:
    """Horizontal bars of the ``top`` most frequent words (notebook 01)."""
    words, freqs = zip(*counts.most_common(top))
    fig, ax = plt.subplots(figsize=(7, 0.22 * top + 1))
    ax.barh(words[::-1], freqs[::-1], color="tab:orange")
    ax.set(xlabel="occurrences", title=title or f"the {top} most frequent words")
    fig.tight_layout()
    return fig


def plot_projection(points, labels: Sequence[str], title: str = "") -> Figure:
    """A 2-D scatter of projected features, one colour per label (notebook 02)."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for label in sorted(set(labels)):
        mask = [lab == label for lab in labels]
        ax.scatter(points[mask, 0], points[mask, 1], s=12, alpha=0.7, label=label)
    ax.legend(fontsize=8, markerscale=1.5)
    ax.set(xlabel="component 1", ylabel="component 2", title=title)
    fig.tight_layout()
    return fig


def plot_vocabulary_tradeoff(
    min_counts: Sequence[int], sizes: Sequence[int], coverages: Sequence[float]
) -> Figure:
    """Vocabulary size and word coverage against the minimum word count (notebook 03)."""
    fig, left = plt.subplots(figsize=(7, 3.8))
    left.plot(min_counts, sizes, "o-", color="tab:blue")
    left.set_xlabel("minimum count of a word in the training captions")
    left.set_ylabel("vocabulary size", color="tab:blue")
    right = left.twinx()
    right.plot(min_counts, [100 * c for c in coverages], "s--", color="tab:red")
    right.set_ylabel("validation words covered (%)", color="tab:red")
    left.set_title("a smaller vocabulary covers a little less text")
    fig.tight_layout()
    return fig
