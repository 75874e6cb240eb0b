"""The attention captioner (notebook 08) and the transformer (notebook 09) against the merge
model, at Flickr8k scale.

The models get the same captions (Flickr8k's training captions, or text of
its size) and the same vocabulary:

* the merge model reads ``fc2`` (4,096 numbers per image) held in memory;
* the attention model and the transformer read VGG16's 14x14x512 grid,
  streamed batch by batch from one memory-mapped float16 file, as notebooks 08
  and 09 train them (the transformer at :mod:`helpers.transformer`'s default
  size).

Measured: training speed (predicted words per second) and peak memory, each
model in its own process; and decoding time of 1,000 test images, greedy and
beam 3, after a few hundred training steps (so captions end at a natural
length). The grids are random numbers: speed does not depend on their values.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

GRID_SHAPE = (14, 14, 512)
KINDS = ("merge", "attention", "transformer")
GRID_MODELS = {"attention": "attention (grid)", "transformer": "transformer (grid)"}


def _data(kind: str, folder: Path, n_images: int):
    """The training captions of the first ``n_images`` images, with ``fc2`` or grids on disk."""
    from benchmarks.flickr8k_scale import training_data
    from helpers.feature_cache import CachedRows
    from helpers.training import CaptionData

    data, vocab, source = training_data()
    names = data.names[:n_images]
    keep = np.isin(data.image_index, np.arange(n_images))
    captions = {name: [] for name in names}
    for index, sequence in zip(data.image_index[keep], np.array(data.sequences, object)[keep]):
        captions[names[index]].append(vocab.decode(list(sequence)))
    if kind == "merge":
        features = data.features[:n_images]
    else:
        path = folder / "grid.npy"
        if not path.exists():
            grids = np.lib.format.open_memmap(path, "w+", np.float16, (n_images, *GRID_SHAPE))
            rng = np.random.default_rng(0)
            for first in range(0, n_images, 100):
                grids[first:first + 100] = rng.random((min(100, n_images - first), *GRID_SHAPE))
            grids.flush()
            del grids
        features = CachedRows(np.load(path, mmap_mode="r"), np.arange(n_images))
    return CaptionData.from_captions("train", captions, vocab, features), vocab, source


def _model(kind: str, vocab):
    from helpers.models import build_attention_model, build_caption_model
    from helpers.transformer import build_transformer_model

    if kind == "merge":
        return build_caption_model(len(vocab))
    if kind == "transformer":
        return build_transformer_model(len(vocab), GRID_SHAPE, max_length=vocab.max_length)
    return build_attention_model(len(vocab), grid_shape=GRID_SHAPE)


def _measure(kind: str, folder: str, n_images: int, steps: int, train_steps: int,
             n_decode: int) -> dict:
    import keras

    from benchmarks.decoding import time_decoding
    from benchmarks.training import _peak_memory_gb
    from helpers.classic import words_per_second
    from helpers.training import masked_loss

    data, vocab, source = _data(kind, Path(folder), n_images)
    model = _model(kind, vocab)
    model.compile(optimizer=keras.optimizers.Adam(), loss=masked_loss())
    speed = words_per_second(model, data.pipeline(32).repeat(), steps, warmup=3)
    peak_gb = _peak_memory_gb()
    model.fit(data.pipeline(32).repeat().take(train_steps), verbose=0)
    features = data.features[np.arange(n_decode) % len(data.names)]
    greedy, greedy_s, beam_s = time_decoding(model, features, vocab)
    return {"words_per_second": speed, "peak_gb": peak_gb, "greedy_s": greedy_s,
            "beam3_s": beam_s, "images": n_decode, "captions": len(data),
            "tokens_per_caption": float(np.mean([len(t) for t in greedy.tokens])),
            "feature_mb": features.nbytes / 2**20 / n_decode * len(data.names),
            "source": source}


def run(n_images: int = 1000, steps: int = 20, train_steps: int = 150,
        n_decode: int = 1000, kinds: tuple[str, ...] = KINDS) -> dict[str, dict]:
    """Each model in its own process (its own peak memory); the grid file, written once, in a
    temporary folder."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.attention", kind, folder, str(n_images),
                 str(steps), str(train_steps), str(n_decode)],
                capture_output=True, text=True, check=True)
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def report(results: dict[str, dict]) -> list[str]:
    """The figures of each model, then each grid model's ratios against merge (from this run)."""
    merge = results["merge"]
    grids = [kind for kind in GRID_MODELS if kind in results]
    first = results[grids[0]] if grids else merge
    lines = [f"{first['captions']:,} training captions of {first['source']}; "
             f"decoding {first['images']:,} images"]
    for name, r in [("merge (fc2)", merge)] + [(GRID_MODELS[k], results[k]) for k in grids]:
        lines.append(f"{name:>18}: {r['words_per_second']:8,.0f} words/s training, peak memory "
                     f"{r['peak_gb']:.2f} GB; greedy {r['greedy_s']:6.2f} s, beam 3 "
                     f"{r['beam3_s']:6.2f} s ({r['tokens_per_caption']:.1f} tokens per caption)")
    for kind in grids:
        r = results[kind]
        training = merge["words_per_second"] / r["words_per_second"]
        greedy, beam = (r[k] / merge[k] for k in ("greedy_s", "beam3_s"))
        longer = r["tokens_per_caption"] / merge["tokens_per_caption"]
        lines.append(f"{kind} / merge: training {training:.1f}x slower, greedy decoding "
                     f"{greedy:.1f}x slower, beam 3 {beam:.1f}x slower")
        lines.append(f"  per generated token (the captions' lengths differ {longer:.1f}x after so "
                     f"little training): greedy {greedy / longer:.1f}x, "
                     f"beam 3 {beam / longer:.1f}x")
    if grids:
        lines.append(f"(the grids, {first['feature_mb']:,.0f} MB as float32, stay on disk: "
                     "training reads 32 at a time)")
    return lines


if __name__ == "__main__":
    kind, folder, *numbers = sys.argv[1:]
    print(json.dumps(_measure(kind, folder, *map(int, numbers))))
