"""Training words/s on one and two devices, and in mixed precision (docs/scaling.md).

The merge model at Flickr8k's vocabulary and caption lengths
(:mod:`benchmarks.flickr8k_scale`), trained by :func:`helpers.training.fit`
exactly as notebook 05 trains it, in three ways, each in a process of its own
(TensorFlow fixes its devices, and the precision is set, before its first
operation):

* one device, float32: the series' way, 32 captions a step;
* ``MirroredStrategy`` over two logical CPU devices: 32 captions on each, a
  global batch of 64 (:func:`helpers.distribute.logical_cpus`). Both share
  the same cores, so this measures what mirroring costs, not what a second
  GPU gains. On a machine with GPUs it mirrors them instead, and the report
  names the devices and the policy each way used;
* one device, ``mixed_bfloat16``, where the CPU has bfloat16 instructions.

Words/s is read from the second epoch (the first one compiles), over a part
of the training captions (``CAPTIONS``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import replace

CAPTIONS = 4000
WAYS = {"one device, float32": ("none", "float32", 1),
        "MirroredStrategy, 2 logical CPU devices": ("mirrored", "float32", 2),
        "one device, mixed_bfloat16": ("none", "mixed", 1)}


def _measure(strategy: str, precision: str, devices: int) -> dict:
    from helpers.distribute import logical_cpus, training_scope

    if devices > 1:
        logical_cpus(devices)
    from benchmarks.flickr8k_scale import training_data
    from helpers.models import build_caption_model
    from helpers.training import fit

    data, vocab, source = training_data()
    train = replace(data, image_index=data.image_index[:CAPTIONS],
                    sequences=data.sequences[:CAPTIONS])
    val = replace(data, image_index=data.image_index[-64:], sequences=data.sequences[-64:])
    with training_scope(strategy, precision) as chosen:
        model = build_caption_model(len(vocab))
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, vocab, train, val, run_dir, epochs=2, verbose=0)
    seconds = result.history[1]["seconds"]
    return {"words_per_second": train.num_words / seconds, "replicas": chosen.num_replicas_in_sync,
            "devices": list(chosen.extended.worker_devices),
            "policy": model.get_layer("lstm").dtype_policy.name, "vocab": len(vocab),
            "words": train.num_words, "source": source}


def run() -> dict[str, dict]:
    from helpers.distribute import cpu_has_bfloat16

    results = {}
    for name, (strategy, precision, devices) in WAYS.items():
        if precision == "mixed" and not cpu_has_bfloat16():
            results[name] = {"skipped": "this CPU has no bfloat16 instructions"}
            continue
        out = subprocess.run([sys.executable, "-m", "benchmarks.distribute", strategy, precision,
                              str(devices)], capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def report(results: dict[str, dict]) -> list[str]:
    base = results["one device, float32"]
    lines = [f"merge model, {base['words']:,} words a pass ({CAPTIONS:,} captions), vocabulary "
             f"{base['vocab']:,}; {base['source']}"]
    for name, r in results.items():
        if "skipped" in r:
            lines.append(f"{name:42} skipped: {r['skipped']}")
            continue
        lines.append(f"{name:42} {r['words_per_second']:8,.0f} words/s "
                     f"({r['words_per_second'] / base['words_per_second']:.2f}x one device; "
                     f"{r['replicas']} replica(s) on {', '.join(r['devices'])}, {r['policy']})")
    return lines


if __name__ == "__main__":
    strategy, precision, devices = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(_measure(strategy, precision, devices)))
