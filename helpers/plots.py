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


def draw_merge_model(model) -> Figure:
    """A block diagram of the merge model, with each layer's output shape (notebook 04)."""
    boxes = {  # layer name -> (x, y) of the box centre
        "features": (0, 4), "image_dropout": (0, 3), "image_dense": (0, 2),
        "tokens": (2, 5), "embedding": (2, 4), "word_dropout": (2, 3), "lstm": (2, 2),
        "merge": (1, 1), "decoder_dense": (1, 0), "next_word": (1, -1),
    }
    if "standardise" in [layer.name for layer in model.layers]:
        boxes.update(features=(0, 5), standardise=(0, 4))
    edges = [("features", "standardise" if "standardise" in boxes else "image_dropout"),
             ("standardise", "image_dropout"), ("image_dropout", "image_dense"),
             ("image_dense", "merge"), ("tokens", "embedding"), ("embedding", "word_dropout"),
             ("word_dropout", "lstm"), ("lstm", "merge"), ("merge", "decoder_dense"),
             ("decoder_dense", "next_word")]
    colours = {0: "#dbe9f6", 2: "#fde3c8", 1: "#e2f0d9"}
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    for name, (x, y) in boxes.items():
        layer = model.get_layer(name)
        shape = tuple(layer.output.shape) if hasattr(layer, "output") else ()
        label = f"{name}\n{type(layer).__name__} {shape}"
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.5", "fc": colours[x], "ec": "gray"})
    for a, b in edges:
        if a in boxes and b in boxes:
            ax.annotate("", xy=boxes[b], xytext=boxes[a],
                        arrowprops={"arrowstyle": "->", "color": "gray", "shrinkA": 18,
                                    "shrinkB": 18})
    ax.set(xlim=(-0.9, 2.9), ylim=(-1.6, 5.6), title="the merge model: image and words meet "
           "after the LSTM")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_history(history: Sequence[dict], title: str = "") -> Figure:
    """Training and validation loss per epoch, the best epoch marked (notebook 05)."""
    epochs = [row["epoch"] for row in history]
    val = [row["val_loss"] for row in history]
    best = epochs[val.index(min(val))]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(epochs, [row["loss"] for row in history], "o-", label="training")
    ax.plot(epochs, val, "s-", label="validation")
    ax.axvline(best, color="gray", ls=":", label=f"best epoch ({best})")
    ax.set(xlabel="epoch", ylabel="masked cross-entropy", title=title or "loss per epoch")
    ax.legend()
    fig.tight_layout()
    return fig
