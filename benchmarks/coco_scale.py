"""A COCO-scale rehearsal: what COCO costs, measured on stand-ins (docs/scaling.md).

COCO cannot be downloaded here (19 GB of zips), and what makes it slow and big is
its size, not its pictures. Three measurements, each in a process of its own so
its peak memory (``VmHWM``) is its own, each writing a JSON file into
``runs/coco-scale/`` (``--folder``):

``extract``
    ``--images`` stand-in JPEGs (shapes-world scenes at 640x480, COCO's usual
    size) under ``train2014/`` with a Karpathy ``dataset_coco.json`` listing
    them, loaded by :func:`helpers.data.load_dataset` as COCO is; then their
    ``fc2`` and ``block5_conv3`` grid by a randomly initialised VGG16
    (:func:`helpers.features.extract_features`, the series' own path), timed,
    and extrapolated to COCO's 123,287 images: time, and the cache's size on
    disk (the grid in float16).
``captions``
    A synthetic ``dataset_coco.json`` at COCO's published counts: 123,287
    images in Karpathy's split (113,287 train with ``restval``, 5,000 val, 5,000
    test) and 616,767 captions, the words drawn from a Zipf law over 10,000
    made-up words (the ``epoch`` stage reports the vocabulary it gives).
``epoch``
    The merge model on that caption file, with random stand-in ``fc2``
    features for all 123,287 images held in memory, as
    :class:`helpers.training.CaptionData` holds them: ``--fraction`` of one
    epoch trained with :func:`helpers.training.fit` (1.0: the whole epoch),
    its time extrapolated to the whole epoch, and the peak memory.

``python -m benchmarks.coco_scale all`` runs the three and prints the table
recorded in docs/scaling.md. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers.runtime import repo_root

COCO_IMAGES = 123_287  # published: COCO 2014 train (82,783) + val (40,504)
COCO_SPLIT = {"train": 82_783, "restval": 30_504, "val": 5_000, "test": 5_000}
"""Karpathy's split of those images (published: dataset_coco.json); restval trains."""
COCO_CAPTIONS = 616_767  # published: the sentences of dataset_coco.json
MEAN_WORDS = 10.5  # estimate: COCO captions average about ten and a half words
PHOTO_SIZE = (640, 480)


def _peak_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _stand_in_images(root: Path, count: int) -> None:
    """``count`` stand-in JPEGs in ``root/train2014`` and a Karpathy file listing them."""
    from helpers.shapes import draw_scene, random_scene

    folder = root / "train2014"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    entries = []
    for index in range(count):
        name = f"COCO_train2014_{index:012d}.jpg"
        path = folder / name
        scene = random_scene(rng)
        if not path.exists():  # resumes an interrupted build
            picture = draw_scene(scene, noise_seed=index).resize(PHOTO_SIZE)
            picture.save(path.with_suffix(".tmp"), format="JPEG", quality=90)
            path.with_suffix(".tmp").rename(path)
        split = "train" if index % 10 < 8 else "val" if index % 10 == 8 else "test"
        entries.append({"filepath": "train2014", "filename": name, "split": split,
                        "sentences": [{"raw": "a stand-in picture of shapes"}]})
    (root / "dataset_coco.json").write_text(json.dumps({"dataset": "coco", "images": entries}))


def measure_extraction(folder: Path, images: int, batch_size: int = 32) -> dict:
    """Stand-in images through the series' extraction, extrapolated to COCO's 123,287."""
    from helpers.data import load_dataset
    from helpers.encoders import choose_encoder
    from helpers.features import extract_features

    root = folder / "data" / "coco"
    started = time.perf_counter()
    _stand_in_images(root, images)
    drawing = time.perf_counter() - started
    dataset = load_dataset("coco", root=root)
    run_dir = folder / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a cache of an earlier run would take no time
    started = time.perf_counter()
    cache = extract_features(dataset, run_dir, choose_encoder("vgg16", "none"), grid=True,
                             batch_size=batch_size, progress=True)
    seconds = time.perf_counter() - started
    disk = sum(p.stat().st_size for p in cache.folder.glob("*.npy"))
    scale = COCO_IMAGES / len(cache.names)
    return {"images": len(cache.names), "drawing_s": drawing, "extraction_s": seconds,
            "images_per_s": len(cache.names) / seconds,
            "cache_gb": disk / 1e9, "coco_hours": seconds * scale / 3600,
            "coco_cache_gb": disk * scale / 1e9, "batch_size": batch_size}


def _spelled(number: int) -> str:
    """A made-up word for a number, in letters (cleaning keeps only letters): 0 -> "ba"."""
    letters = "b"
    while True:
        number, digit = divmod(number, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[digit]
        if not number:
            return letters


def synthetic_captions(path: Path, seed: int = 0, lexicon: int = 10_000) -> dict:
    """Write a Karpathy-format ``dataset_coco.json`` at COCO's published counts (no images)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, lexicon + 1) ** 1.07  # Zipf: a few words are most of the text
    splits = [s for s, n in COCO_SPLIT.items() for _ in range(n)]
    per_image = np.full(COCO_IMAGES, COCO_CAPTIONS // COCO_IMAGES)
    per_image[rng.choice(COCO_IMAGES, COCO_CAPTIONS % COCO_IMAGES, replace=False)] += 1
    lengths = np.clip(rng.poisson(MEAN_WORDS - 6, COCO_CAPTIONS) + 6, 6, 40)
    words = rng.choice(lexicon, lengths.sum(), p=weights / weights.sum())
    ends = np.cumsum(lengths)
    spelled = [_spelled(w) for w in range(lexicon)]
    sentences = [" ".join(spelled[w] for w in words[e - n:e]) for e, n in zip(ends, lengths)]
    images, first = [], 0
    for index, (split, count) in enumerate(zip(splits, per_image)):
        where = "val2014" if split in ("val", "test") else "train2014"
        images.append({"filepath": where, "filename": f"COCO_{where}_{index:012d}.jpg",
                       "split": split, "cocoid": index,
                       "sentences": [{"raw": s} for s in sentences[first:first + count]]})
        first += count
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dataset": "coco", "images": images}))
    return {"images": COCO_IMAGES, "captions": COCO_CAPTIONS, "words": int(lengths.sum()),
            "file_mb": path.stat().st_size / 1e6}


def _read_captions(path: Path) -> tuple[dict, dict]:
    """Captions by image and image names by split (restval joins train), as the loader does."""
    data = json.loads(path.read_text())
    captions, splits = {}, {"train": [], "val": [], "test": []}
    for entry in data["images"]:
        captions[entry["filename"]] = [s["raw"] for s in entry["sentences"]]
        splits[{"restval": "train"}.get(entry["split"], entry["split"])].append(entry["filename"])
    return captions, splits


def measure_epoch(folder: Path, fraction: float, seed: int = 0) -> dict:
    """One merge-model epoch (or ``fraction`` of it) on COCO-size captions and stand-in fc2."""
    from dataclasses import replace

    from helpers.models import FEATURE_DIM, build_caption_model
    from helpers.text import DEFAULT_MIN_COUNT, Vocabulary
    from helpers.training import CaptionData, fit

    path = folder / "captions" / "dataset_coco.json"
    if not path.exists():
        synthetic_captions(path, seed)
    started = time.perf_counter()
    captions, splits = _read_captions(path)
    vocab = Vocabulary.fit([c for n in splits["train"] for c in captions[n]], DEFAULT_MIN_COUNT)
    rng = np.random.default_rng(seed)
    data = {}
    for split in ("train", "val"):
        names = splits[split]
        features = np.empty((len(names), FEATURE_DIM), np.float32)
        for first in range(0, len(names), 8192):  # 1.9 GB for train: made in pieces
            rows = features[first:first + 8192]
            rows[:] = rng.standard_normal(rows.shape, dtype=np.float32)
        data[split] = CaptionData.from_captions(split, {n: captions[n] for n in names}, vocab,
                                                features)
    loading = time.perf_counter() - started
    full_words = data["train"].num_words

    def part(d: CaptionData) -> CaptionData:  # the first fraction of a shuffled caption order
        keep = np.sort(rng.permutation(len(d))[:max(1, round(len(d) * fraction))])
        return replace(d, image_index=d.image_index[keep], sequences=[d.sequences[i] for i in keep])

    train, val = (data["train"], data["val"]) if fraction >= 1 else map(part, data.values())
    model = build_caption_model(len(vocab), seed=seed)
    started = time.perf_counter()
    result = fit(model, vocab, train, val, folder / "epoch-run", epochs=1, resume=False,
                 verbose=0)
    seconds = time.perf_counter() - started
    return {"train_captions": len(data["train"]), "train_words": full_words,
            "vocab": len(vocab), "max_length": vocab.max_length, "fraction": fraction,
            "loading_s": loading, "trained_s": seconds,
            "words_per_s": result.words_per_second, "epoch_min": seconds / fraction / 60,
            "loss": result.history[-1]["loss"]}


def _child(stage: str, folder: Path, args: list[str]) -> dict:
    command = [sys.executable, "-m", "benchmarks.coco_scale", stage, "--folder", str(folder),
               *args]
    subprocess.run(command, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    return json.loads((folder / f"{stage}.json").read_text())


def report(results: dict) -> list[str]:
    lines = [f"COCO-scale rehearsal, {platform.machine()}, {os.cpu_count()} CPUs:"]
    if "extract" in results:
        e = results["extract"]
        lines += [f"extraction: {e['images']:,} stand-in images in {e['extraction_s'] / 60:.1f} "
                  f"min ({e['images_per_s']:.2f} images/s, peak {e['peak_gb']:.1f} GB, cache "
                  f"{e['cache_gb']:.2f} GB); COCO's {COCO_IMAGES:,} images: "
                  f"{e['coco_hours']:.1f} hours, cache {e['coco_cache_gb']:.0f} GB on disk"]
    if "captions" in results:
        c = results["captions"]
        lines += [f"captions: {c['images']:,} images, {c['captions']:,} captions, "
                  f"{c['words']:,} words, dataset_coco.json {c['file_mb']:.0f} MB, written in "
                  f"{c.get('seconds', float('nan')):.0f} s (peak {c.get('peak_gb', 0):.1f} GB)"]
    if "epoch" in results:
        t = results["epoch"]
        lines += [f"merge epoch: {t['train_captions']:,} training captions, "
                  f"{t['train_words']:,} words, vocabulary {t['vocab']:,}, max_length "
                  f"{t['max_length']}; loading {t['loading_s']:.0f} s; {t['fraction']:.0%} of "
                  f"an epoch trained in {t['trained_s'] / 60:.1f} min "
                  f"({t['words_per_s']:,.0f} words/s) -> one epoch {t['epoch_min']:.0f} min; "
                  f"peak memory {t['peak_gb']:.1f} GB"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coco_scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["extract", "captions", "epoch", "all"])
    parser.add_argument("--folder", type=Path, default=repo_root() / "runs" / "coco-scale")
    parser.add_argument("--images", type=int, default=5000, help="stand-in images to extract")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="the part of an epoch to train (1.0: a whole epoch)")
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.stage == "all":
        results = {"extract": _child("extract", folder, ["--images", str(args.images)]),
                   "captions": _child("captions", folder, []),
                   "epoch": _child("epoch", folder, ["--fraction", str(args.fraction)])}
        print("\n".join(report(results)))
        return 0
    if args.stage == "extract":
        result = measure_extraction(folder, args.images)
    elif args.stage == "captions":
        result = synthetic_captions(folder / "captions" / "dataset_coco.json")
    else:
        result = measure_epoch(folder, args.fraction)
    result["seconds"] = time.perf_counter() - started
    result["peak_gb"] = _peak_gb()
    (folder / f"{args.stage}.json").write_text(json.dumps(result, indent=1))
    print("\n".join(report({args.stage: result})), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
