"""A run folder: the trained models, what made them, and their outputs (notebooks 05-08).

A run folder is self-contained: each model travels with its vocabulary and
the identity of the encoder whose features it was trained on, so captioning
with it (:mod:`helpers.caption`) needs no training code. The merge model
(notebook 05) sits in the run folder itself, the attention model
(notebook 08) in its ``attention/`` subfolder.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import keras

from helpers.encoders import encoder_spec
from helpers.models import vocab_size_of
from helpers.runtime import write_atomically
from helpers.shapes_vgg import load_card, weights_id
from helpers.text import Vocabulary, VocabularyError

MODEL_FILE, MODEL_META, HISTORY_FILE = "model.keras", "model.json", "history.csv"


ATTENTION_FOLDER = "attention"  # the attention model's run folder, inside the run's (notebook 08)


def _save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")  # Keras insists on the .keras suffix
    model.save(tmp)
    os.replace(tmp, path)


def check_vocabulary(model: keras.Model, vocab: Vocabulary, where: str = "the model") -> None:
    """Raise a clear error when the model's output layer and the vocabulary disagree."""
    if vocab_size_of(model) != len(vocab):
        raise VocabularyError(
            f"{where} predicts {vocab_size_of(model)} words but the vocabulary has {len(vocab)}: "
            "they come from different runs. Use the vocab.json saved with the model, or "
            "train again (notebook 05) after building the vocabulary (notebook 03).")


def save_trained(model: keras.Model, vocab: Vocabulary, run_dir: str | Path, **info) -> Path:
    """Save ``model.keras`` and ``model.json`` (its vocabulary and what made it) in ``run_dir``."""
    check_vocabulary(model, vocab)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _save_model(model, run_dir / MODEL_FILE)
    meta = {"vocabulary": vocab.to_dict(), "model": model.name, **info}
    write_atomically(run_dir / MODEL_META, json.dumps(meta, indent=1))
    return run_dir / MODEL_FILE


def load_trained(run_dir: str | Path) -> tuple[keras.Model, Vocabulary, dict]:
    """The best model of a run, its vocabulary and what made it (``model.json``)."""
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
    model = keras.models.load_model(path)
    check_vocabulary(model, vocab, where=str(path))
    return model, vocab, meta


def read_history(run_dir: str | Path) -> list[dict]:
    """``history.csv`` of a run as a list of rows (numbers as floats)."""
    with open(Path(run_dir) / HISTORY_FILE, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def model_dir(settings, attention: bool = False) -> Path:
    """Where the run's merge model (notebook 05) or attention model (notebook 08) is kept."""
    run_dir = Path(settings.run_dir)
    return run_dir / ATTENTION_FOLDER if attention else run_dir


def run_info(settings, attention: bool = False) -> dict:
    """What made a model or a score, stored beside it (``attention``: notebook 08's model)."""
    spec = encoder_spec(settings.encoder)
    weights = settings.encoder_weights
    if not spec.takes_weights:  # its weights are those of its pretraining (notebook 02)
        card = load_card(settings.data_dir, settings.encoder)
        weights = weights_id(card) if card else "not pretrained yet"
    return {"dataset": settings.dataset, "encoder": settings.encoder,
            "encoder_weights": weights,
            "layer": spec.grid if attention else spec.fc2, "seed": settings.seed}


def save_captions(run_dir: str | Path, split: str, names: list[str],
                  by_method: dict) -> Path:
    """Write ``captions_<split>.json``: for each image, its caption by each decoding method."""
    table = {name: {m: d.captions[i] for m, d in by_method.items()}
             for i, name in enumerate(names)}
    return write_atomically(Path(run_dir) / f"captions_{split}.json", json.dumps(table, indent=1))
