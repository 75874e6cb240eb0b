"""Figures for every stage of the series; each function returns a matplotlib Figure.

Returning the figure (rather than calling ``plt.show()``) lets a notebook show
it, a script save it to the run folder's ``figures/`` (:func:`save_figure`), and a test
check it.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from helpers.dataset import CaptionDataset
from helpers.images import read_rgb
from helpers.metrics import tokens
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


# --------------------------------------------------------------------------
# Captions on pictures (notebook 07)
# --------------------------------------------------------------------------


def save_figure(fig: Figure, run_dir: str | Path, name: str) -> Path:
    """Save ``fig`` as ``<run_dir>/figures/<name>.png`` and return the path."""
    path = Path(run_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def picture_array(image) -> np.ndarray:
    """A path or an array as an RGB array for ``imshow``."""
    if isinstance(image, str | Path):
        return read_rgb(image)
    return np.asarray(image)


def _wrapped(label: str, caption: str, width: int) -> str:
    return textwrap.fill(f"{label}: {caption}", width, subsequent_indent="  ")


def plot_captions(
    images: Sequence,
    captions: Sequence[Mapping[str, str]],
    references: Sequence[Sequence[str]] | None = None,
    names: Sequence[str] | None = None,
    ncols: int = 3,
    n_references: int = 2,
    width: int = 40,
    run_dir: str | Path | None = None,
    name: str = "captions",
) -> Figure:
    """A grid of pictures, each titled with its generated captions (notebook 07).

    ``captions[i]`` maps a decoding method to its caption, for example
    ``{"greedy": "a red circle", "beam3": "a small red circle"}``. The first
    ``n_references`` human captions go below each picture, in grey. Images are
    paths (read as in training) or arrays. With ``run_dir`` the figure is also
    saved to ``<run_dir>/figures/<name>.png``.
    """
    if len(captions) != len(images):
        raise ValueError(f"{len(captions)} sets of captions for {len(images)} images")
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 5.6 * nrows), dpi=80,
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(picture_array(image))
        lines = [_wrapped(method, text, width) for method, text in captions[i].items()]
        ax.set_title("\n".join(([names[i]] if names else []) + lines), fontsize=9, loc="left")
        if references is not None:
            refs = [_wrapped("human", r, width) for r in references[i][:n_references]]
            ax.text(0, -0.03, "\n".join(refs), transform=ax.transAxes, va="top", fontsize=8.5,
                    color="dimgray")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.04, hspace=0.9, wspace=0.1)
    if run_dir is not None:
        save_figure(fig, run_dir, name)
    return fig


def plot_best_and_worst(
    images: Sequence,
    captions: Sequence[str],
    scores: Sequence[float],
    references: Sequence[Sequence[str]] | None = None,
    n: int = 3,
    score_name: str = "CIDEr",
    width: int = 40,
    run_dir: str | Path | None = None,
) -> Figure:
    """The ``n`` best and ``n`` worst captions by a per-image score, in two rows (notebook 07)."""
    order = np.argsort(np.asarray(scores), kind="stable")
    n = min(n, len(order) // 2) or 1
    picked = [("best", i) for i in order[::-1][:n]] + [("worst", i) for i in order[:n]]
    fig, axes = plt.subplots(2, n, figsize=(4.4 * n, 11), dpi=80, squeeze=False)
    for ax, (kind, i) in zip(axes.flat, picked):
        ax.imshow(picture_array(images[i]))
        ax.axis("off")
        ax.set_title(f"{kind}: {score_name} {scores[i]:.2f}\n"
                     + _wrapped("generated", captions[i], width), fontsize=9, loc="left")
        if references is not None:
            ax.text(0, -0.03, "\n".join(_wrapped("human", r, width) for r in references[i][:2]),
                    transform=ax.transAxes, va="top", fontsize=8.5, color="dimgray")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.06, hspace=0.75, wspace=0.1)
    if run_dir is not None:
        save_figure(fig, run_dir, "best_and_worst")
    return fig


def plot_length_distributions(
    generated: Mapping[str, Sequence[str]],
    references: Sequence[Sequence[str]],
    run_dir: str | Path | None = None,
) -> Figure:
    """Words per caption: each decoding method against the human captions (notebook 07)."""
    human = [len(tokens(r)) for refs in references for r in refs]
    made = {method: [len(tokens(c)) for c in captions] for method, captions in generated.items()}
    longest = max([*human, *(max(v) for v in made.values())])
    bins = np.arange(0, longest + 2) - 0.5
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.hist(human, bins=bins, density=True, color="lightgray", label=f"human (mean "
            f"{np.mean(human):.1f})")
    for method, lengths in made.items():
        ax.hist(lengths, bins=bins, density=True, histtype="step", linewidth=2,
                label=f"{method} (mean {np.mean(lengths):.1f})")
    ax.set(xlabel="words per caption", ylabel="share of captions",
           title="caption lengths: generated against human")
    ax.legend()
    fig.tight_layout()
    if run_dir is not None:
        save_figure(fig, run_dir, "caption_lengths")
    return fig


def plot_vocabulary_use(use: Mapping, run_dir: str | Path | None = None) -> Figure:
    """Three panels from :func:`helpers.metrics.vocabulary_use` (notebook 07).

    Distinct words used, generated against human; the most over-used words;
    the most frequent human words the model never writes.
    """
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4),
                                              gridspec_kw={"width_ratios": [1, 2, 2]})
    left.bar(["generated", "human"], [use["generated_distinct"], use["reference_distinct"]],
             color=["tab:blue", "lightgray"])
    left.set(title="distinct words", ylabel="words")
    if use["overused"]:
        words, made, said = zip(*use["overused"])
        rows = np.arange(len(words))
        middle.barh(rows + 0.2, [100 * m for m in made], 0.4, label="generated")
        middle.barh(rows - 0.2, [100 * s for s in said], 0.4, color="lightgray", label="human")
        middle.set_yticks(rows, words)
        middle.invert_yaxis()
        middle.legend(fontsize=8)
    middle.set(title="most over-used words", xlabel="% of all words")
    if use["never_used"]:
        words, counts = zip(*use["never_used"])
        right.barh(words, counts, color="tab:red")
        right.invert_yaxis()
    right.set(title="frequent human words never generated", xlabel="times in human captions")
    fig.tight_layout()
    if run_dir is not None:
        save_figure(fig, run_dir, "vocabulary_use")
    return fig


def plot_truth_confusion(confusion: Mapping[str, Mapping], run_dir: str | Path | None = None,
                         title: str = "") -> Figure:
    """Heat maps of what captions said against what the pictures held (shapes world, notebook 07).

    ``confusion`` is :func:`helpers.shapes_truth.truth_confusion`'s result. Each row
    is normalised to 100%: of the captions of pictures holding the row, the
    share that said the column. The diagonal is right.
    """
    fig, axes = plt.subplots(1, len(confusion), figsize=(4.6 * len(confusion), 4.4),
                             gridspec_kw={"width_ratios": [len(t["said"]) for t in
                                                           confusion.values()]})
    for ax, (kind, table) in zip(np.atleast_1d(axes), confusion.items()):
        counts = np.asarray(table["counts"], dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (row, column), share in np.ndenumerate(shares):
            if counts[row, column]:
                ax.text(column, row, f"{share:.0%}", ha="center", va="center", fontsize=7.5,
                        color="white" if share > 0.6 else "black")
        ax.set_xticks(range(len(table["said"])), table["said"], rotation=45, ha="right")
        ax.set_yticks(range(len(table["held"])),
                      [f"{h} ({int(t)})" for h, t in zip(table["held"], totals[:, 0])])
        ax.set(title=kind, xlabel="the caption says", ylabel="the picture holds (pictures)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if run_dir is not None:
        save_figure(fig, run_dir, "truth_confusion")
    return fig
