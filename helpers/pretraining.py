"""Pretraining ``shapes-vgg`` on labelled scenes (notebook 02).

Where do "pretrained features" come from? VGG16 learnt its ``fc2`` layer by
classifying 1.2 million labelled ImageNet photos. Offline we cannot download
those weights, and a randomly initialised VGG16 sees colour a little and shape
hardly at all. So we do what ImageNet pretraining does, in minutes, to the
network of :mod:`helpers.shapes_vgg`:

1. draw a *separate* set of shapes-world scenes (its own seed, never the
   captioning images), drawn with more variety than the captioning world:
   any position, size and slight rotation, shaded colours, textured and noisy
   backgrounds, JPEG quality from poor to good, sometimes smooth edges
   (:mod:`helpers.shapes_scenes`);
2. label each with its truth (which colours, shapes, sizes, colour-shape
   pairs, how many objects, which background), a multi-label target;
3. train the network in two stages:

   a. *one object at a time*: its convolutions learn to tell a circle from a
      star on small 80x80 pictures of a single object (cheap: a 40x40 input
      after halving, thousands of pictures a minute);
   b. *whole scenes*: the first blocks stay frozen (they already see edges,
      corners and colours) and the rest learns to predict every label.

   Trained on whole scenes only, the network learns colours within minutes
   but shapes hardly at all: with one to three objects and labels that say
   only *what* is in the scene, it cannot tell which pixels made "star" true.
   A single object leaves no doubt. (Curriculum learning: easy lessons first.)

The weights and a card (what data, how many epochs, held-out accuracy per
attribute, time) are cached under the data folder
(:func:`helpers.shapes_vgg.encoder_folder`), shared by every run on the
machine, and rebuilt only when the recipe changes. An interrupted pretraining
resumes from its last finished epoch. Captioning never imports this module:
it loads the finished weights (:func:`helpers.shapes_vgg.load_shapes_vgg`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from helpers.encoders import Recipe
from helpers.runtime import backed_up_epochs, replaced_atomically, write_atomically
from helpers.shapes_scenes import (
    ATTRIBUTES,
    LABELS,
    PATCH_SIZE,
    PATCH_TASKS,
    group_accuracy,
    halve,
    make_patch_set,
    make_pretraining_set,
    scene_batches,
)
from helpers.shapes_vgg import (
    NAME,
    WEIGHTS_FILE,
    build_shapes_vgg,
    encoder_folder,
    recipe_of,
    seeded_initialisers,
)


def build_object_trainer(trainer, recipe: Recipe):
    """Stage a's model: blocks 1-4 of ``trainer`` (the same layers) on one 40x40 object.

    The grid's maximum over positions says what the object is (shape, colour);
    its mean says what surrounds it (the background).
    """
    import keras
    from keras import layers

    picture = keras.Input((PATCH_SIZE // 2, PATCH_SIZE // 2, 3), name="object_40")
    x = trainer.get_layer("rescale")(picture)
    for block, (_, n) in enumerate(recipe.blocks[:4], start=1):
        for conv in range(1, n + 1):
            x = trainer.get_layer(f"block{block}_conv{conv}")(x)
        if block < 4:
            x = trainer.get_layer(f"block{block}_pool")(x)
    most, mean = layers.GlobalMaxPooling2D()(x), layers.GlobalAveragePooling2D()(x)
    init = seeded_initialisers(recipe.seed + 2)
    heads = {task: layers.Dense(len(classes), activation="softmax", name=task,
                                kernel_initializer=next(init))(
        mean if task == "background" else most) for task, classes in PATCH_TASKS.items()}
    return keras.Model(picture, heads, name="one_object")


def _recorder(measure, history: list[dict], total: int, print_progress, commit=None,
              loss: str | None = None, stop_after: int | None = None):
    """A Keras callback for the end of each epoch: held-out accuracy, the epoch's line, a commit.

    ``measure(model)`` gives held-out accuracy per attribute; each epoch adds a
    row to ``history`` (an epoch trained again after an interruption replaces
    its row); ``commit(seconds)`` saves the progress with the epoch's time;
    ``stop_after`` stops after that epoch, as an interruption would (tests).
    """
    import keras

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.tick = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            right = {k: round(float(v), 4) for k, v in measure(self.model).items()}
            row = {"epoch": epoch + 1, **({"loss": round(float(logs[loss]), 4)} if loss else {})}
            history[:] = [r for r in history if r["epoch"] <= epoch] + [{**row, **right}]
            said = f"loss {row['loss']:.3f}, right" if loss else "right"
            print_progress(f"  epoch {epoch + 1}/{total}, {said}: "  # fits in 100 characters
                           + " ".join(f"{k} {v:.0%}" for k, v in right.items()), flush=True)
            if commit:
                commit(time.perf_counter() - self.tick)
            if stop_after is not None and epoch + 1 >= stop_after < total:
                self.model.stop_training = True

    return Record()


def _learn_objects(trainer, recipe: Recipe, print_progress) -> tuple[list[dict], float, float]:
    """Stage a: train blocks 1-4 on single objects; returns (history, drawing s, training s)."""
    import keras

    tick = time.perf_counter()
    print_progress(f"Stage a, one object at a time: drawing {recipe.patches:,} + 1,000 "
                   f"pictures of a single object (seed {recipe.seed + 2})...", flush=True)
    train_x, train_y = make_patch_set(recipe.patches, recipe.seed + 2)
    test_x, test_y = make_patch_set(1000, recipe.seed + 3)
    train_x, test_x = halve(train_x), halve(test_x)
    drawing, tick = time.perf_counter() - tick, time.perf_counter()
    model = build_object_trainer(trainer, recipe)
    model.compile(keras.optimizers.Adam(recipe.learning_rate),
                  loss=dict.fromkeys(PATCH_TASKS, "sparse_categorical_crossentropy"))

    def right(model) -> dict:
        predicted = model.predict(test_x, batch_size=200, verbose=0)
        return {task: np.mean(predicted[task].argmax(axis=1) == test_y[task])
                for task in PATCH_TASKS}

    history: list[dict] = []
    model.fit(scene_batches(train_x, train_y, 32, recipe.seed + 2, range(recipe.patch_epochs),
                       flips=False),
              epochs=recipe.patch_epochs, steps_per_epoch=-(-recipe.patches // 32), shuffle=False,
              verbose=0, callbacks=[_recorder(right, history, recipe.patch_epochs, print_progress)])
    return history, drawing, time.perf_counter() - tick


def pretrain(data_dir: str | Path, encoder: str = NAME, progress: bool = True,
             stop_after_epochs: int | None = None) -> dict | None:
    """Pretrain ``encoder`` once per machine and return its card (notebook 02).

    Reuses finished weights at once. Otherwise runs stage a (single objects,
    a minute or so, redone whole if interrupted), then stage b (whole scenes):
    one ``fit`` whose ``BackupAndRestore`` keeps the weights and Adam's state
    (the learning-rate schedule with it) after every epoch, so an interrupted
    stage b resumes after its last finished epoch exactly where it was. Each
    epoch's held-out accuracy per attribute goes on the card, written with the
    weights into :func:`encoder_folder`. The pictures are drawn again after an
    interruption: they follow from the seed. ``stop_after_epochs`` stops stage b
    early, as an interruption would, and returns None (used by the tests).
    """
    import keras

    recipe = recipe_of(encoder)
    folder = encoder_folder(data_dir, recipe)
    card_path, weights_path = folder / "card.json", folder / WEIGHTS_FILE
    if card_path.exists() and weights_path.exists():
        return json.loads(card_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    state_path, stage_a, backup = folder / "progress.json", folder / "objects.weights.h5", \
        folder / "backup"
    written = json.loads(json.dumps(asdict(recipe)))  # as progress.json holds it (lists)
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state is not None and (state.get("recipe") != written or not stage_a.exists()):
        state = None  # another recipe or a lost stage a: start afresh
    if state is not None and not backup.exists():
        state["history"] = []  # stage b's backup is lost: stage b starts afresh
    if state is None:
        shutil.rmtree(backup, ignore_errors=True)  # never mixed into another start
        state = {"recipe": written, "objects": None, "history": [],
                 "seconds": {"drawing": 0.0, "objects": 0.0, "training": 0.0}}
    print_progress = print if progress else (lambda *a, **k: None)

    def commit(**seconds: float) -> None:
        for part, value in seconds.items():
            state["seconds"][part] += value
        write_atomically(state_path, json.dumps(state, indent=1))

    _, trainer = build_shapes_vgg(recipe, len(LABELS))
    if state["objects"] is None:
        history, drawing, seconds = _learn_objects(trainer, recipe, print_progress)
        state["objects"] = history
        trainer.save_weights(stage_a)
        commit(drawing=drawing, objects=seconds)  # commits stage a
    else:
        print_progress("Stage a (one object at a time) is done.")
    trainer.load_weights(stage_a)

    tick = time.perf_counter()
    print_progress(f"Stage b, whole scenes: drawing {recipe.train_images:,} + "
                   f"{recipe.test_images:,} labelled pretraining scenes (seed {recipe.seed})...\n"
                   "Each epoch prints the share of held-out scenes it gets exactly right.",
                   flush=True)
    train_x, train_y = make_pretraining_set(recipe.train_images, recipe.seed)
    test_x, test_y = make_pretraining_set(recipe.test_images, recipe.seed + 1)
    train_x, test_x = halve(train_x), halve(test_x)
    commit(drawing=time.perf_counter() - tick)

    for layer in trainer.layers:  # what stage a taught the first blocks stays as it is
        if layer.name.startswith("block") and int(layer.name[5]) <= recipe.frozen_blocks:
            layer.trainable = False
    steps_per_epoch = -(-recipe.train_images // recipe.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate,
                                                      steps_per_epoch * recipe.epochs)
    trainer.compile(keras.optimizers.Adam(schedule),
                    loss={"labels": "binary_crossentropy", "grid_labels": "binary_crossentropy"})
    done = backed_up_epochs(backup)  # an epoch recorded but not backed up is trained again
    state["history"] = state["history"][:done]
    if done:
        print_progress(f"Resuming after epoch {done} of {recipe.epochs}.")

    def held_out(model) -> dict:
        return group_accuracy(model.predict(test_x, batch_size=100, verbose=0)["labels"], test_y)

    record = _recorder(held_out, state["history"], recipe.epochs, print_progress,
                       commit=lambda seconds: commit(training=seconds),
                       loss="labels_loss", stop_after=stop_after_epochs)
    targets = {"labels": train_y, "grid_labels": train_y}
    trainer.fit(scene_batches(train_x, targets, recipe.batch_size, recipe.seed,
                         range(done, recipe.epochs)),
                epochs=recipe.epochs, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=0,
                callbacks=[record, keras.callbacks.BackupAndRestore(
                    backup, double_checkpoint=True, delete_checkpoint=False)])
    if len(state["history"]) < recipe.epochs:
        return None

    with replaced_atomically(weights_path) as tmp:
        trainer.save_weights(tmp)
    card = {
        "encoder": recipe.name,
        "recipe": written,
        "objects": (f"stage a: {recipe.patches:,} pictures of one object ({PATCH_SIZE}x"
                    f"{PATCH_SIZE}, seed {recipe.seed + 2}), {recipe.patch_epochs} epochs "
                    "predicting its shape, colour and background"),
        "data": (f"stage b: {recipe.train_images:,} training and {recipe.test_images:,} held-out "
                 f"scenes drawn from seeds {recipe.seed} and {recipe.seed + 1}, never the "
                 "captioning images: 1-3 objects anywhere, sizes -20%..+15%, turned up to 17 "
                 "degrees, shaded colours, graded and noisy backgrounds, half with smooth edges, "
                 f"JPEG quality 35-95; random flips while training; blocks 1-"
                 f"{recipe.frozen_blocks} frozen"),
        "labels": list(LABELS),
        "epochs": recipe.epochs,
        "held_out": {k: state["history"][-1][k] for k in ATTRIBUTES},
        "history": state["history"],
        "objects_history": state["objects"],
        "seconds": {k: round(v, 1) for k, v in state["seconds"].items()},
        "parameters": int(trainer.count_params()),
        "made": time.strftime("%Y-%m-%d %H:%M"),
        "keras": keras.__version__,
    }
    write_atomically(card_path, json.dumps(card, indent=1))  # the weights count from now on
    shutil.rmtree(backup, ignore_errors=True)
    stage_a.unlink(missing_ok=True)
    state_path.unlink(missing_ok=True)
    return card


def remove_pretraining(data_dir: str | Path, encoder: str = NAME) -> None:
    """Delete a recipe's cached weights and card, so the next use pretrains again."""
    shutil.rmtree(encoder_folder(data_dir, recipe_of(encoder)), ignore_errors=True)
