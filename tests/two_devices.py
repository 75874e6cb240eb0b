"""Training on two logical CPU devices, in a process of its own (tests/test_distribute.py).

TensorFlow fixes its devices at its first operation, and pytest's process has
long passed that point, so ``python -m tests.two_devices OUT.json`` splits the
CPU in two (:func:`helpers.distribute.logical_cpus`) before anything else and
trains small merge and attention models three ways, each from the same
initial weights on the same captions in the same order:

* ``none``: one device, a batch of 16 captions;
* ``mirrored``: ``MirroredStrategy`` over the two devices, 8 captions each (the
  same global batch of 16, the same learning rate); the merge model's run is
  stopped after two epochs and resumed from its checkpoint for the third, as
  after an interruption;
* ``mixed``: one device in ``mixed_bfloat16``, where the CPU has bfloat16
  instructions (elsewhere oneDNN cannot run it, and the run is skipped).

It writes each run's losses per epoch to OUT.json, and whether a small
convolutional encoder gives the same features with each batch split between
the two devices (:func:`helpers.distribute.replicated`, as feature extraction
uses it) as on one.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from helpers.distribute import cpu_has_bfloat16, logical_cpus, training_scope

EPOCHS = 3


def _data(kind: str):
    import numpy as np

    from helpers.text import Vocabulary
    from helpers.training import CaptionData

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]

    def captions(n: int) -> dict[str, list[str]]:
        return {f"im{i}": [" ".join(rng.choice(words, rng.integers(3, 9))) for _ in range(3)]
                for i in range(n)}

    train, val = captions(96), captions(24)
    vocab = Vocabulary.fit([c for cs in train.values() for c in cs], 1)
    shape = (64,) if kind == "merge" else (4, 4, 16)
    return vocab, [CaptionData.from_captions(split, caps, vocab,
                                             rng.normal(size=(len(caps), *shape)).astype("f4"))
                   for split, caps in (("train", train), ("val", val))]


def _model(kind: str, vocab):
    from helpers.models import build_attention_model, build_caption_model

    if kind == "merge":
        return build_caption_model(len(vocab), feature_dim=64, units=32, embedding_dim=16, seed=1)
    return build_attention_model(len(vocab), grid_shape=(4, 4, 16), units=32, embedding_dim=16,
                                 seed=1)


def train(kind: str, how: str, folder: Path) -> dict:
    """One run of ``kind`` (merge, attention) trained ``how`` (none, mirrored, mixed)."""
    from helpers.training import fit

    vocab, (train_data, val_data) = _data(kind)
    strategy = "mirrored" if how == "mirrored" else "none"
    with training_scope(strategy, "mixed" if how == "mixed" else "float32") as chosen:
        model = _model(kind, vocab)
    per_replica = 16 // chosen.num_replicas_in_sync
    options = {"batch_size": per_replica, "learning_rate": 1e-3, "verbose": 0}
    run_dir = folder / f"{kind}-{how}"
    # the mirrored merge run stops after two epochs and resumes, as after an interruption
    resumes = how == "mirrored" and kind == "merge"
    first = EPOCHS - 1 if resumes else EPOCHS
    result = fit(model, vocab, train_data, val_data, run_dir, epochs=first, **options)
    row = {"replicas": chosen.num_replicas_in_sync,
           "compute_dtype": model.get_layer("embedding").compute_dtype,
           "output_dtype": model.get_layer("next_word").compute_dtype,
           "initial_loss": math.log(len(vocab)), "resumed_from": 0}
    if resumes:  # a new process would build the model again, so here too
        with training_scope(strategy):
            model = _model(kind, vocab)
        result = fit(model, vocab, train_data, val_data, run_dir, epochs=EPOCHS, **options)
        row["resumed_from"] = result.resumed_from
    row["loss"] = [h["loss"] for h in result.history]
    row["val_loss"] = [h["val_loss"] for h in result.history]
    if how == "mixed":  # saved in 16 bits, loaded to compute in float32 (helpers.runs)
        import keras
        import numpy as np

        from helpers.runs import MODEL_FILE, load_trained

        loaded, _, _ = load_trained(run_dir)
        as_saved = keras.models.load_model(run_dir / MODEL_FILE)  # its layers in bfloat16
        row["saved_dtypes"] = sorted({x.compute_dtype for x in as_saved._flatten_layers()})
        row["loaded_dtypes"] = sorted({x.compute_dtype for x in loaded._flatten_layers()})
        inputs = [train_data.features[:4],
                  np.array(train_data.sequences[0][None, :-1]).repeat(4, 0)]
        row["loaded_difference"] = float(np.abs(np.asarray(loaded(inputs))
                                                - np.asarray(as_saved(inputs))).max())
    return row


def split_extraction() -> dict:
    """A batch of 5 pictures through a small conv encoder, on one device and split over two."""
    import keras
    import numpy as np
    import tensorflow as tf

    from helpers.distribute import make_strategy, replicated

    strategy = make_strategy("mirrored")
    with strategy.scope():
        images = keras.Input((16, 16, 3))
        grid = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="grid")(images)
        vector = keras.layers.GlobalAveragePooling2D(name="fc2")(grid)
        encoder = keras.Model(images, [vector, grid])
    batch = tf.constant(np.random.default_rng(0).normal(size=(5, 16, 16, 3)), tf.float32)
    step = tf.function(lambda x: encoder(x, training=False))
    one = [x.numpy() for x in step(batch)]
    two = [x.numpy() for x in replicated(step, strategy)(batch)]
    return {"replicas": strategy.num_replicas_in_sync,
            "shapes": [list(x.shape) for x in two],
            "largest_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two))}


def main(out: str) -> None:
    logical_cpus(2)
    results = {"extraction": split_extraction()}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("merge", "attention"):
            for how in ("none", "mirrored", "mixed"):
                if how == "mixed" and not cpu_has_bfloat16():
                    results[f"{kind}-{how}"] = {"skipped": "no bfloat16 instructions"}
                    continue
                results[f"{kind}-{how}"] = train(kind, how, Path(folder))
    Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
