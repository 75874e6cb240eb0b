"""The feature cache on disk: memory-mapped, resumable, read a few rows at a time (notebook 02).

:func:`helpers.features.extract_features` writes it; the captioners read it.
``fc2.npy`` (and the conv grid, in float16) are memory-mapped arrays, one row
per image; ``meta.json`` says what made them, which batches are done and which
images could not be read. Nothing is loaded whole: Flickr8k's grids are
gigabytes, and a training batch reads only its own rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.runtime import replaced_atomically, write_atomically

FC2_LAYER = "fc2"  # every encoder of the registry names its image vector so


class FeatureCacheError(RuntimeError):
    """A run folder's feature cache was made by another encoder; it is kept, not overwritten."""



def write_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=1))


@dataclass
class FeatureCache:
    """Features of a dataset's images, stored in ``folder`` (see the module docstring)."""

    folder: Path

    @property
    def meta(self) -> dict:
        return json.loads((self.folder / "meta.json").read_text())

    @property
    def names(self) -> list[str]:
        return self.meta["names"]

    @property
    def complete(self) -> bool:
        """True only when every batch was written and the cache was closed."""
        path = self.folder / "meta.json"
        return path.exists() and self.meta.get("complete", False)

    @property
    def failed(self) -> list[str]:
        """Images that could not be read (no features)."""
        return self.meta.get("failed", [])

    @property
    def available(self) -> list[str]:
        """Images that have features."""
        failed = set(self.failed)
        return [n for n in self.names if n not in failed]

    def _index(self, names: list[str]) -> np.ndarray:
        meta = self.meta  # read meta.json once, not once per name
        position = {n: i for i, n in enumerate(meta["names"])}
        failed = set(meta["failed"])
        missing = [n for n in names if n not in position or n in failed]
        if missing:
            raise KeyError(f"no features for {len(missing)} images, e.g. {missing[:3]}")
        return np.array([position[n] for n in names], dtype=np.int64)

    def get(self, names: list[str], layer: str = FC2_LAYER) -> np.ndarray:
        """Features of ``names`` (in that order), read from disk without loading the rest."""
        return np.asarray(self.rows(names, layer)[np.arange(len(names))])

    def rows(self, names: list[str], layer: str = FC2_LAYER) -> CachedRows:
        """The features of ``names`` left on disk: rows are read when indexed.

        The attention model (notebook 08) trains on the conv grid this way: on
        Flickr8k the grids of the training images are gigabytes, and each batch
        reads only its own 32 images.
        """
        if not self.complete:
            raise RuntimeError(f"the feature cache in {self.folder} is not complete")
        path = self.folder / f"{layer}.npy"
        if not path.exists():
            raise FileNotFoundError(
                f"the feature cache in {self.folder} has no {layer!r} layer: extract the "
                "features again with the grid (notebook 02 with GRID = True, or "
                "prepare(settings, grid=True))")
        return CachedRows(np.load(path, mmap_mode="r"), self._index(names))

    def normalizer(self, train_names: list[str],
                   layer: str = FC2_LAYER) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of ``layer`` over the training images, kept in the cache.

        With a randomly initialised encoder the features' scale is arbitrary;
        standardising them (with training statistics only) gives the decoder
        inputs of a sensible size whatever the encoder. ``fc2`` has one mean per
        unit; a conv grid one per channel, over all its positions, computed a
        few hundred images at a time.
        """
        path = self.folder / f"{layer}_stats.npz"
        key = hashlib.sha1("\n".join(sorted(train_names)).encode()).hexdigest()
        if path.exists():
            stats = np.load(path)
            if str(stats["key"]) == key:
                return stats["mean"], stats["std"]
        mean, std = _channel_stats(self.rows(train_names, layer))
        # Units that hardly ever fire would be blown up by their tiny spread:
        # give every unit at least a tenth of the average spread.
        std = np.maximum(std, 0.1 * std.mean() + 1e-8)
        with replaced_atomically(path) as tmp:
            np.savez(tmp, mean=mean, std=std, key=key)
        return mean, std


@dataclass
class CachedRows:
    """Rows ``index`` of a memory-mapped feature array, read (as float32) only when indexed."""

    array: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.array.shape[1:])

    def __getitem__(self, rows) -> np.ndarray:
        return np.asarray(self.array[self.index[rows]], dtype=np.float32)



def _channel_stats(rows: CachedRows, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the last axis over everything else, chunk by chunk."""
    total = squares = 0.0
    count = 0
    for first in range(0, len(rows), chunk):
        x = rows[np.arange(first, min(first + chunk, len(rows)))]
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        total, squares, count = total + x.sum(0), squares + (x**2).sum(0), count + len(x)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)
