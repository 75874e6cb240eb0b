"""Feature extraction in shards: several processes or machines, one cache (docs/scaling.md).

COCO's 123,287 images take hours through VGG16 on one machine. Shard *k* of *n*
is the *k*-th of *n* consecutive, disjoint parts of the sorted image list, so
*n* processes (on one machine with several GPUs, or on *n* machines sharing a
disk) each extract their own part, with the series' own resumable extraction
(:func:`helpers.features.extract_features`), into a cache of its own:

    <run folder>/shards/<k>-of-<n>/features/

Then :func:`merge_shards` copies them, a few hundred rows at a time (never
the whole grid in memory), into the run's one cache, ``<run folder>/features``,
written exactly as an extraction in one go would have written it, so every
notebook takes it as it is. From a shell, with the run's settings
(``CAPTION_DATASET`` and the others)::

    python -m helpers.sharding extract --shard 1/4 --grid     # on each machine: 1/4 ... 4/4
    python -m helpers.sharding merge --shards 4               # once, when all are done

An interrupted shard resumes where it stopped when it is started again. Every
process must see the same dataset (the same images): the shards are cut from
the sorted list of its images, and the merge checks that they add up to it.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.data import load_dataset
from helpers.distribute import extraction_strategy
from helpers.feature_cache import FeatureCache, FeatureCacheError, write_json
from helpers.features import extract_features
from helpers.settings import get_settings


def shard_names(names: list[str], index: int, count: int) -> list[str]:
    """Shard ``index`` (from 0) of ``count``: a consecutive part of the sorted ``names``.

    >>> shard_names(["a", "b", "c", "d", "e"], 1, 2)
    ['d', 'e']
    """
    if not 0 <= index < count:
        raise ValueError(f"shard {index + 1} of {count} does not exist: shards are 1 to {count}")
    ordered = sorted(names)
    first, last = len(ordered) * index // count, len(ordered) * (index + 1) // count
    return ordered[first:last]


@dataclass
class Shard:
    """Part of a dataset, seen as a dataset by :func:`helpers.features.extract_features`."""

    dataset: object
    names: list[str]

    @property
    def name(self) -> str:
        return self.dataset.name  # the same name: a shard's cache settings are the whole one's

    @property
    def captions(self) -> dict[str, list[str]]:
        return {n: self.dataset.captions[n] for n in self.names}

    def image_path(self, name: str) -> Path:
        return self.dataset.image_path(name)


def shard_folder(run_dir: str | Path, index: int, count: int) -> Path:
    """Where shard ``index`` (from 0) of ``count`` keeps its cache, inside the run folder."""
    return Path(run_dir) / "shards" / f"{index + 1}-of-{count}"


def extract_shard(dataset, run_dir: str | Path, choice, index: int, count: int,
                  **options) -> FeatureCache:
    """Extract (or resume) shard ``index`` of ``count`` of ``dataset``'s images; ``options``
    as for :func:`helpers.features.extract_features` (``grid``, ``batch_size``, ...)."""
    part = Shard(dataset, shard_names(list(dataset.captions), index, count))
    return extract_features(part, shard_folder(run_dir, index, count), choice, **options)


def merge_shards(dataset, run_dir: str | Path, count: int, chunk: int = 256) -> FeatureCache:
    """The ``count`` finished shard caches of ``dataset`` as the run's one cache, ``features/``.

    Each shard must be complete and made with the same settings; the merged
    cache is written beside it and takes its name only when whole. A run
    folder that already holds a cache of other settings is left alone.
    """
    run_dir = Path(run_dir)
    parts = [FeatureCache(shard_folder(run_dir, i, count) / "features") for i in range(count)]
    unfinished = [str(p.folder) for p in parts if not p.complete]
    if unfinished:
        raise FeatureCacheError(
            f"{len(unfinished)} of the {count} shards are not finished ({unfinished[0]}, ...): "
            "run `python -m helpers.sharding extract --shard K/N` for each again; it resumes.")
    metas = [p.meta for p in parts]
    settings = metas[0]["settings"]
    if any(m["settings"] != settings for m in metas):
        raise FeatureCacheError(f"the shards in {run_dir / 'shards'} were made with different "
                                "settings (encoder, weights or layers): extract them again")
    names = [n for m in metas for n in m["names"]]
    if names != sorted(dataset.captions):
        raise FeatureCacheError(f"the {count} shards hold {len(names)} images, not the "
                                f"{len(dataset.captions)} of {dataset.name}: were they made "
                                "with another number of shards or another dataset?")
    folder = run_dir / "features"
    merged = FeatureCache(folder)
    if merged.complete and merged.meta["settings"] == settings and merged.names == names:
        return merged  # merged before
    if folder.exists():
        raise FeatureCacheError(f"{folder} already holds another cache; move it away (or "
                                "delete it) and merge again")
    staging = run_dir / "features.merging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for layer in settings["layers"]:
        sources = [np.load(p.folder / f"{layer}.npy", mmap_mode="r") for p in parts]
        out = np.lib.format.open_memmap(staging / f"{layer}.npy", "w+", sources[0].dtype,
                                        (len(names), *sources[0].shape[1:]))
        row = 0
        for source in sources:
            for first in range(0, len(source), chunk):  # a few hundred rows in memory at a time
                block = source[first:first + chunk]
                out[row + first:row + first + len(block)] = block
            row += len(source)
        out.flush()
        del out
    batch_size = metas[0]["batch_size"]
    write_json(staging / "meta.json", {
        "settings": settings, "names": names, "batch_size": batch_size,
        "done_batches": list(range(-(-len(names) // batch_size))),
        "failed": [n for m in metas for n in m["failed"]], "complete": True,
        "merged_from": count})
    staging.rename(folder)
    return FeatureCache(folder)


def _shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(1, 4)``: shards are numbered from 1 on the command line."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write the shard as K/N, like 2/4") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be from 1 to N")
    return k - 1, n


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.sharding extract --shard K/N`` or ``merge --shards N``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.sharding",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    one = commands.add_parser("extract", help="extract (or resume) one shard of the images")
    one.add_argument("--shard", type=_shard, required=True, help="K/N: shard K of N, from 1")
    one.add_argument("--grid", action="store_true", help="the conv grid too (notebooks 08-09)")
    one.add_argument("--batch-size", type=int, default=32)
    both = commands.add_parser("merge", help="merge the N finished shards into the run's cache")
    both.add_argument("--shards", type=int, required=True, help="N, as the shards were made")
    args = parser.parse_args(argv)
    settings = get_settings()
    dataset = load_dataset(settings, download=False)
    if args.command == "extract":
        index, count = args.shard
        cache = extract_shard(dataset, settings.run_dir, settings.encoder_choice, index, count,
                              grid=args.grid, batch_size=args.batch_size,
                              strategy=extraction_strategy(settings))
    else:
        cache = merge_shards(dataset, settings.run_dir, args.shards)
    print(f"{cache.folder}: {len(cache.names):,} images, complete: {cache.complete}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
