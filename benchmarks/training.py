"""Training speed at Flickr8k scale: whole captions against the classic prefix pairs.

Same model (the merge model, seed defaults), same data, same optimiser (Adam):

* classic: the classic tutorials' generator, one image per batch, every prefix
  of its captions padded to the maximum length, one-hot targets;
* whole captions: ``CaptionData.pipeline``, 32 captions per batch padded per
  batch, the masked loss.

Each runs in its own process, so its peak memory (resident set) is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TARGET_SPEEDUP = 10.0
TARGET_PEAK_GB = 2.5


def _peak_memory_gb() -> float:
    """This process's peak resident memory.

    ``/proc/self/status`` (VmHWM) is read first: ``ru_maxrss`` survives ``exec``,
    so a child started by a big parent would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB -> GB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def _measure(method: str, steps: int) -> dict:
    import keras

    from benchmarks.flickr8k_scale import training_data
    from helpers.classic import classic_pair_batches, next_word_model, words_per_second
    from helpers.models import build_caption_model
    from helpers.training import masked_loss

    data, vocab, source = training_data()
    model = build_caption_model(len(vocab))
    if method == "classic":
        model = next_word_model(model)
        model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy")
        batches = classic_pair_batches(data, len(vocab), vocab.max_length)
    else:
        model.compile(optimizer=keras.optimizers.Adam(), loss=masked_loss())
        batches = data.pipeline(32).repeat()
    speed = words_per_second(model, batches, steps, warmup=3)
    peak_gb = _peak_memory_gb()
    return {"words_per_second": speed, "peak_gb": peak_gb, "words_per_epoch": data.num_words,
            "vocab": len(vocab), "max_length": vocab.max_length, "captions": len(data),
            "source": source}


def run(steps: int = 60) -> dict[str, dict]:
    results = {}
    for method in ("classic", "whole"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.training", method, str(steps)],
                             capture_output=True, text=True, check=True)
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def report(results: dict[str, dict]) -> list[str]:
    classic, whole = results["classic"], results["whole"]
    speedup = whole["words_per_second"] / classic["words_per_second"]
    one_hot_gb = whole["words_per_epoch"] * whole["vocab"] * 4 / 2**30
    lines = [f"data: {whole['captions']:,} training captions, {whole['words_per_epoch']:,} words "
             f"per epoch, vocabulary {whole['vocab']:,}, max_length {whole['max_length']}; "
             f"{whole['source']}"]
    for name, r in (("classic prefix pairs", classic), ("whole captions", whole)):
        epoch_min = r["words_per_epoch"] / r["words_per_second"] / 60
        lines.append(f"{name:>22}: {r['words_per_second']:9,.0f} words/s  (an epoch: "
                     f"{epoch_min:6.1f} min)  peak memory {r['peak_gb']:.2f} GB")
    lines.append(f"whole / classic = {speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x) "
                 f"{'met' if speedup >= TARGET_SPEEDUP else 'NOT met'}")
    lines.append(f"peak memory of whole-caption training = {whole['peak_gb']:.2f} GB "
                 f"(target <= {TARGET_PEAK_GB} GB) "
                 f"{'met' if whole['peak_gb'] <= TARGET_PEAK_GB else 'NOT met'}")
    lines.append(f"(all prefix pairs with one-hot targets held in memory would need "
                 f"{one_hot_gb:.1f} GB: why the classic code needs a generator)")
    return lines


if __name__ == "__main__":  # one method, in its own process: python -m benchmarks.training whole
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(_measure(sys.argv[1], int(sys.argv[2]))))
