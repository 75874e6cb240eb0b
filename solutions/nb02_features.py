"""Notebook 02 (feature extraction), exercises 2 to 4."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.feature_cache import FeatureCache
from helpers.features import extract_features
from helpers.images import image_batches


def interrupted_extraction(dataset, run_dir: str | Path, settings, batch_size: int = 8,
                           stop_after: int = 2) -> dict[str, object]:
    """Exercise 2: extract into ``run_dir``, stop after ``stop_after`` batches, then resume.

    Returns what ``meta.json`` says before and after the second run. Use a run
    folder of its own, never the series' ``settings.run_dir``.
    """
    options = {"choice": settings.encoder_choice, "batch_size": batch_size, "progress": False}
    extract_features(dataset, run_dir, stop_after_batches=stop_after, **options)
    stopped = FeatureCache(Path(run_dir) / "features")
    before = {"done_batches": list(stopped.meta["done_batches"]), "complete": stopped.complete}
    cache = extract_features(dataset, run_dir, **options)
    return {"before": before,
            "after": {"done_batches": list(cache.meta["done_batches"]),
                      "complete": cache.complete}}


def group_separation(points: np.ndarray, labels: list[str]) -> float:
    """Exercise 3: spread between the groups' centres over the spread inside the groups.

    Large when the projection shows the groups apart; about 1/len(points) per
    group when the labels have nothing to do with the points.
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    centre = points.mean(axis=0)
    between = within = 0.0
    for label in np.unique(labels):
        group = points[labels == label]
        between += len(group) * np.sum((group.mean(axis=0) - centre) ** 2)
        within += np.sum((group - group.mean(axis=0)) ** 2)
    return float(between / max(within, 1e-12))


def layer_features(base, paths: list[str], layer: str, batch_size: int = 32) -> np.ndarray:
    """Exercise 4: the activations of ``layer`` of the network ``base`` for each image file."""
    import keras

    cut = keras.Model(base.input, base.get_layer(layer).output)
    return np.concatenate([cut(images, training=False).numpy()
                           for images, _ in image_batches(paths, batch_size)])


def probe_layers(base, paths: list[str], truth: np.ndarray, layers=("fc1", "fc2"),
                 fit_share: float = 0.75) -> dict[str, dict[str, float]]:
    """Exercise 4: notebook 02's linear probe on each layer, with the same fit/held-out split."""
    from helpers.shapes_scenes import probe

    fit = int(fit_share * len(paths))
    results = {}
    for layer in layers:
        x = layer_features(base, paths, layer)
        results[layer] = probe(x[:fit], truth[:fit], x[fit:], truth[fit:])
    return results
