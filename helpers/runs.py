"""A run folder: the trained models, what made them, and their outputs (notebooks 05-08).

A run folder (by default ``runs/<dataset>/<encoder>``, see
:class:`helpers.settings.Settings`) is self-contained: each model travels
with its vocabulary, the identity and fingerprint of the encoder whose
features it was trained on and, for ``shapes-vgg``, a copy of that encoder
(:func:`save_encoder_with`), so captioning with it (:mod:`helpers.caption`)
needs no training code and no data folder. The models it can hold are in
:data:`MODELS`: the merge model (notebook 05) in the run folder itself, the
attention model (notebook 08) in its ``attention/`` subfolder.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

import helpers.transformer  # noqa: F401  (registers its layers, so a saved transformer loads)
from helpers.encoders import EncoderChoice, encoder_spec
from helpers.features import build_encoder
from helpers.models import check_vocabulary
from helpers.runtime import replaced_atomically, repo_root, write_atomically
from helpers.settings import quick_demo, run_name
from helpers.shapes_vgg import WEIGHTS_FILE, encoder_folder, load_card, weights_id
from helpers.text import Vocabulary, VocabularyError

MODEL_FILE, MODEL_META, HISTORY_FILE = "model.keras", "model.json", "history.csv"


def save_trained(model: keras.Model, vocab: Vocabulary, run_dir: str | Path, **info) -> Path:
    """Save ``model.keras`` and ``model.json`` (its vocabulary and what made it) in ``run_dir``."""
    check_vocabulary(model, vocab)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(run_dir / MODEL_FILE) as tmp:
        model.save(tmp)
    meta = {"vocabulary": vocab.to_dict(), "model": model.name, **info}
    write_atomically(run_dir / MODEL_META, json.dumps(meta, indent=1))
    return run_dir / MODEL_FILE


def load_trained(run_dir: str | Path) -> tuple[keras.Model, Vocabulary, dict]:
    """The best model of a run, its vocabulary and what made it (``model.json``).

    A model trained in mixed precision (docs/scaling.md) computes in float32
    once loaded: its weights are float32 already, and float32 runs on every
    CPU, where 16-bit arithmetic may not (:func:`in_float32`).
    """
    run_dir = Path(run_dir)
    path = run_dir / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: train a model first (notebook 05)")
    try:
        meta = json.loads((run_dir / MODEL_META).read_text())
        words = meta["vocabulary"]
        vocab = Vocabulary(words["words"], words["min_count"], words["max_length"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as err:
        raise VocabularyError(f"{run_dir / MODEL_META} is missing or damaged ({err}); "
                              "train again (notebook 05)") from None
    model = in_float32(keras.models.load_model(path))
    check_vocabulary(model, vocab, where=str(path))
    return model, vocab, meta


def in_float32(model: keras.Model) -> keras.Model:
    """``model`` with every layer that computes in 16 bits (a mixed precision policy) switched
    to float32, in place; the weights, float32 under any policy, are not touched."""
    for layer in model._flatten_layers(include_self=False):  # nested layers too
        if layer.dtype_policy.name.startswith("mixed"):
            layer.dtype_policy = "float32"
    return model


def read_history(run_dir: str | Path) -> list[dict]:
    """``history.csv`` of a run as a list of rows (numbers as floats)."""
    with open(Path(run_dir) / HISTORY_FILE, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def save_captions(run_dir: str | Path, split: str, names: list[str],
                  by_method: dict) -> Path:
    """Write ``captions_<split>.json``: for each image, its caption by each decoding method."""
    table = {name: {m: d.captions[i] for m, d in by_method.items()}
             for i, name in enumerate(names)}
    return write_atomically(Path(run_dir) / f"captions_{split}.json", json.dumps(table, indent=1))


MODELS: dict[str, str] = {"merge": "", "attention": "attention", "transformer": "transformer"}
"""The models a run folder can hold, by name, and the subfolder each is saved in: the merge
model (notebook 05) in the run folder itself, the attention model (notebook 08) in
``attention/``, the transformer (notebook 09) in ``transformer/``. A new kind joins here."""

GRID_MODELS = ("attention", "transformer")
"""The models that read the encoder's conv grid instead of ``fc2``."""

ATTENTION_FOLDER = MODELS["attention"]
ENCODERS_FOLDER = "encoders"  # a run's copy of its pretrained shapes-vgg, as in the data folder
_MOVED = ("features", "attention", "blind", "figures", "checkpoints", ENCODERS_FOLDER)
"""Folders of an old-style run folder (``runs/<dataset>/``) that belong to its run."""


def model_dir(settings, attention: bool = False, *, model: str | None = None) -> Path:
    """Where the run keeps one of its :data:`MODELS` (``attention=True``: ``model="attention"``).

    ``settings`` may also be a run folder.
    """
    name = model or ("attention" if attention else "merge")
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: a run folder holds {', '.join(MODELS)}")
    run_dir = Path(getattr(settings, "run_dir", settings))
    return run_dir / MODELS[name] if MODELS[name] else run_dir


def encoder_fingerprint(network) -> str:
    """A short sha256 of an encoder's weights, rounded to 6 decimals (``-0.0`` counted as 0).

    Stored in ``model.json`` so that an encoder rebuilt at captioning time (a
    random VGG16 made again from its seed, by another Keras or TensorFlow
    perhaps) is known to be the one the model was trained with.
    """
    digest = hashlib.sha256()
    for weight in network.weights:
        values = np.round(np.asarray(weight, dtype=np.float32), 6) + np.float32(0.0)
        digest.update(str(values.shape).encode())
        digest.update(values.tobytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _fingerprint(choice: EncoderChoice, made: str) -> str:
    """The fingerprint of an encoder as :func:`helpers.features.build_encoder` builds it
    (``made``: what identifies the weights, so that new weights mean a new fingerprint)."""
    return encoder_fingerprint(build_encoder(choice))


def run_info(settings, attention: bool = False, *, model: str | None = None,
             fingerprint: bool = True) -> dict:
    """What made a model or a score, stored beside it (``attention``: notebook 08's model).

    ``encoder_fingerprint`` (:func:`encoder_fingerprint`) is there for every
    encoder whose weights are made here or read from a file; not for
    ``imagenet``, which Keras downloads with a checked hash (and building it
    would download 528 MB). ``fingerprint=False`` leaves it out (for a
    comparison). ``quick`` is there when the tests asked for a shorter
    demonstration (:func:`helpers.settings.quick_demo`).
    """
    name = model or ("attention" if attention else "merge")
    model_dir(settings, model=name)  # a known model
    choice = settings.encoder_choice
    spec, weights = choice.spec, choice.weights
    card = None
    if not spec.takes_weights:  # its weights are those of its pretraining (notebook 02)
        card = load_card(choice.data_dir, spec.name)
        weights = weights_id(card) if card else "not pretrained yet"
    info = {"dataset": settings.dataset, "encoder": settings.encoder,
            "encoder_weights": weights,
            "layer": spec.grid if name in GRID_MODELS else spec.fc2, "seed": settings.seed}
    if fingerprint and (card is not None or (spec.takes_weights and weights != "imagenet")):
        if spec.takes_weights and weights != "none":
            path = Path(weights).expanduser()
            made = f"{path.stat().st_mtime_ns}" if path.is_file() else "missing"
        else:
            made = weights
        info["encoder_fingerprint"] = _fingerprint(choice, made)
    if quick_demo():
        info["quick"] = True
    return info


def save_encoder_with(run_dir: str | Path, settings) -> Path | None:
    """Copy a pretrained ``shapes-vgg`` (weights and card) into ``<run_dir>/encoders/``.

    A run folder then captions on its own (:mod:`helpers.caption`), wherever
    its data folder is. Returns the copy's folder, or None for VGG16 (Keras'
    ImageNet weights, a seeded random network or a file the user keeps) and
    for a ``shapes-vgg`` not pretrained yet. An up-to-date copy is left as it is.
    """
    recipe = encoder_spec(settings.encoder).recipe
    if recipe is None:
        return None
    source = encoder_folder(settings.data_dir, recipe)
    card = load_card(settings.data_dir, settings.encoder)
    if card is None:
        return None
    target = encoder_folder(run_dir, recipe)
    if load_card(run_dir, settings.encoder) == card:
        return target
    target.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(target / WEIGHTS_FILE) as tmp:
        shutil.copyfile(source / WEIGHTS_FILE, tmp)
    write_atomically(target / "card.json", json.dumps(card, indent=1))  # last: now it counts
    return target


def _made_by(old: Path) -> str | None:
    """The run name (:func:`helpers.settings.run_name`) of an old-style run folder's artifacts."""
    try:
        if (old / "features" / "meta.json").exists():
            made = json.loads((old / "features" / "meta.json").read_text())["settings"]
            encoder, weights = str(made["encoder"]).lower(), made["weights"]
        else:
            made = json.loads((old / MODEL_META).read_text())
            encoder, weights = str(made["encoder"]).lower(), made["encoder_weights"]
        return run_name(encoder, weights if encoder_spec(encoder).takes_weights else "imagenet")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def move_old_run(settings) -> str | None:
    """Move an old-style run folder's artifacts into the run folder of their encoder, once.

    Before run folders were kept per encoder, a run lived in
    ``runs/<dataset>/`` itself. When the default run folder is used and
    ``runs/<dataset>/`` still holds ``model.keras`` or ``features/``, its
    artifacts move to ``runs/<dataset>/<encoder>/`` (the encoder read from
    them). Returns a note saying what happened, or None when there was
    nothing to do. Nothing is deleted: what cannot be placed stays and the note
    says so.
    """
    run_dir = Path(settings.run_dir)
    old = run_dir.parent
    default = repo_root().resolve() / "runs" / settings.dataset
    if old != default or run_dir.name != run_name(settings.encoder, settings.encoder_weights):
        return None  # CAPTION_RUN_DIR chosen by the user: used as given
    if not ((old / MODEL_FILE).exists() or (old / "features").is_dir()):
        return None
    name = _made_by(old)
    if name is None:
        return (f"{old} holds a run of the old layout whose encoder cannot be told: it is "
                f"left as it is. Caption with it (--run {old}) or move it by hand.")
    target = old / name
    items = [p for p in old.iterdir() if p.is_file() or p.name in _MOVED]
    clashes = [p.name for p in items if (target / p.name).exists()]
    if clashes:
        return (f"{old} holds a run of the old layout, made with {name}, but {target} already "
                f"has {', '.join(sorted(clashes)[:3])}: the old run is left as it is; move "
                "what you want to keep by hand.")
    target.mkdir(parents=True, exist_ok=True)
    for item in items:
        os.replace(item, target / item.name)
    return (f"Run folders are now kept per encoder: moved the {name} run from {old} to "
            f"{target} (its {len(items)} files and folders, nothing deleted).")
