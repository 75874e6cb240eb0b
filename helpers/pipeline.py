"""What a notebook needs from the notebooks before it, rebuilt when missing (notebooks 04-09).

Every notebook runs on its own in a fresh kernel (Colab gives each one a fresh
machine). :func:`prepare` loads the dataset, the feature cache and the
vocabulary of the run, making what is missing and saying so before it starts (and in ``notes``);
:func:`load_or_train` returns the run's trained model, training it first when
there is none. This is orchestration: it sits on top of every stage below.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import keras

from helpers.data import dataset_missing, load_dataset
from helpers.distribute import extraction_strategy, training_scope
from helpers.download import FLICKR8K_ZIPS
from helpers.encoders import encoder_spec
from helpers.feature_cache import FeatureCache
from helpers.features import extract_features
from helpers.models import build_attention_model, build_caption_model
from helpers.pretraining import pretrain
from helpers.runs import (
    GRID_MODELS,
    MODEL_FILE,
    load_trained,
    model_dir,
    move_old_run,
    run_info,
    save_encoder_with,
)
from helpers.shapes_vgg import load_card
from helpers.text import DEFAULT_MIN_COUNT, Vocabulary
from helpers.training import CaptionData, feature_stats, fit
from helpers.transformer import build_transformer_model


def _note(notes: list[str], text: str, progress: bool) -> None:
    """Add ``text`` to ``notes``, and print it at once when ``progress`` is on."""
    notes.append(text)
    if progress:
        print(text, flush=True)


@dataclass
class PreparedRun:
    """Dataset, feature cache and vocabulary of a run, and notes on what had to be rebuilt."""

    settings: object
    dataset: object
    cache: object
    vocab: Vocabulary
    notes: list[str]
    progress: bool = field(default=True, repr=False)

    def note(self, text: str) -> None:
        """Record what had to be done, and say it now (with ``progress``), before doing it."""
        _note(self.notes, text, self.progress)

    def split(self, name: str, grid: bool = False) -> CaptionData:
        """The encoded captions and features of one split (``grid``: the conv grid, on disk)."""
        layer = self.layers.grid if grid else None
        return CaptionData.from_split(self.dataset, name, self.vocab, self.cache, layer)

    @property
    def layers(self):
        """The encoder's ``fc2`` and grid layers and their shapes."""
        return encoder_spec(self.settings.encoder)

    @property
    def feature_dim(self) -> int:
        """How many numbers the encoder gives per image (VGG16: 4,096; shapes-vgg: 1,024)."""
        return self.layers.fc2_dim

    def _train_names(self) -> list[str]:
        available = set(self.cache.available)
        return [n for n in self.dataset.splits["train"] if n in available]

    def feature_stats(self) -> tuple | None:
        """Standardisation statistics for :func:`helpers.models.build_caption_model`."""
        return feature_stats(self.cache, self._train_names(), self.settings.encoder_choice)

    def grid_stats(self) -> tuple | None:
        """Per-channel statistics of the grid for :func:`helpers.models.build_attention_model`
        (``None`` for ImageNet's VGG16, as for ``fc2``)."""
        return feature_stats(self.cache, self._train_names(), self.settings.encoder_choice,
                             self.layers.grid)


_GETTING = {
    "flickr8k": "No Flickr8k in the data folder: downloading it (about 1 GB, a few minutes; "
                "notebook 01 does this).",
    "shapes": "No shapes world in the data folder: drawing it (seconds; notebook 01 does this).",
    "coco": "No COCO in the data folder: downloading it (about 20 GB and hours; its terms and "
            "the disk space come first; docs/scaling.md).",
    "flickr30k": "No Flickr30k in the data folder: getting its split file and unpacking the "
                 "images you requested (docs/scaling.md).",
}


def _getting(settings) -> str:
    """What will be done to get the run's missing dataset (unpacking archives kept on Drive)."""
    downloads = settings.dataset_dir / "downloads"
    if settings.dataset == "flickr8k" and all((downloads / z).exists() for z in FLICKR8K_ZIPS):
        return (f"Flickr8k is not unpacked in the data folder: unpacking its zips from "
                f"{downloads} (about a minute; no download).")
    return _GETTING.get(settings.dataset, f"No {settings.dataset} in the data folder "
                                          "(notebook 01 says how to get it).")


def prepare(settings, progress: bool = True, grid: bool = False) -> PreparedRun:
    """Load the dataset, and the feature cache and vocabulary from the run folder.

    Each notebook must run on its own in a fresh kernel (Colab gives each one a
    fresh machine). The dataset is downloaded (Flickr8k) or drawn (shapes) when
    it is missing, and what notebooks 02 and 03 would have left in the run
    folder is rebuilt; ``notes`` says what had to be done. ``grid``: the cache
    must also hold the conv grid (notebook 08). A run of the old layout
    (``runs/<dataset>/`` itself) is first moved into its encoder's run folder
    (:func:`helpers.runs.move_old_run`); a ``shapes-vgg`` not pretrained yet is
    pretrained first (:func:`helpers.pretraining.pretrain`), and copied into the
    run folder, so that it captions on its own.
    """

    notes: list[str] = []
    note = functools.partial(_note, notes, progress=progress)  # said before the work, not after

    moved = move_old_run(settings)
    if moved:
        note(moved)
    if dataset_missing(settings):  # a fresh machine: Colab gives one to every notebook
        note(_getting(settings))
    dataset = load_dataset(settings, download=True)
    run_dir = Path(settings.run_dir)
    cache = FeatureCache(run_dir / "features")
    spec = encoder_spec(settings.encoder)
    if grid and cache.complete and not (cache.folder / f"{spec.grid}.npy").exists():
        note("The feature cache has no conv grid: extracting the features again, with "
                     "the grid (notebook 02 with GRID = True does this).")
    elif not cache.complete:
        note("No complete feature cache in the run folder: extracting the features now "
                     "(notebook 02 does this).")
    if spec.recipe is not None:  # the features are those of its pretrained weights
        if load_card(settings.data_dir, settings.encoder) is None:
            note(f"No pretrained {settings.encoder} in {settings.data_dir}: "
                         "pretraining it first (a few minutes, once; notebook 02 does this).")
        pretrain(settings.data_dir, settings.encoder, progress=progress)  # once made: instant
    # reuses a matching cache at once, rebuilds a stale one, resumes an interrupted one
    cache = extract_features(dataset, run_dir, settings.encoder_choice, grid=grid,
                             progress=progress, strategy=extraction_strategy(settings))
    save_encoder_with(run_dir, settings)  # the run folder captions without the data folder
    path = run_dir / "vocab.json"
    if path.exists():
        vocab = Vocabulary.load(path)
    else:
        note(f"No {path.name} in the run folder: fitting the vocabulary on the training "
                     f"captions with min_count={DEFAULT_MIN_COUNT} (notebook 03 does this).")
        train = [c for n in dataset.splits["train"] for c in dataset.captions[n]]
        vocab = Vocabulary.fit(train, DEFAULT_MIN_COUNT)
        vocab.save(path)
    return PreparedRun(settings, dataset, cache, vocab, notes, progress)


_MADE_IN = {"merge": ("model", "notebook 05"), "attention": ("attention model", "notebook 08"),
            "transformer": ("transformer", "notebook 09")}


def build_model(prepared: PreparedRun, name: str = "merge") -> keras.Model:
    """A new, untrained model of kind ``name`` (:data:`helpers.runs.MODELS`) for ``prepared``."""
    settings, vocab = prepared.settings, prepared.vocab
    if name == "attention":
        return build_attention_model(len(vocab), grid_shape=prepared.layers.grid_shape,
                                     grid_stats=prepared.grid_stats(), seed=settings.seed)
    if name == "transformer":
        return build_transformer_model(len(vocab), grid_shape=prepared.layers.grid_shape,
                                       max_length=vocab.max_length,
                                       grid_stats=prepared.grid_stats(), seed=settings.seed)
    return build_caption_model(len(vocab), feature_dim=prepared.feature_dim,
                               feature_stats=prepared.feature_stats(), seed=settings.seed)


def load_or_train(prepared: PreparedRun, attention: bool = False, *, model: str | None = None,
                  **fit_options) -> tuple[keras.Model, dict]:
    """The run's trained model of kind ``model``, trained now if there is none.

    ``model``: ``"merge"`` (notebook 05, the default), ``"attention"``
    (notebook 08; ``attention=True`` says the same) or ``"transformer"``
    (notebook 09), each in its folder of the run (:func:`helpers.runs.model_dir`);
    the last two need ``prepared`` to hold the grid. Returns the model and its
    ``model.json`` record; a note is said (and added to ``prepared.notes``)
    before the model is trained here.
    """
    name = model or ("attention" if attention else "merge")
    run_dir = model_dir(prepared.settings, model=name)
    if (run_dir / MODEL_FILE).exists():
        trained, vocab, meta = load_trained(run_dir)
        wanted = run_info(prepared.settings, model=name, fingerprint=False)
        same = all(meta.get(key) == wanted[key] for key in ("encoder", "encoder_weights", "seed"))
        if vocab.words == prepared.vocab.words and same:
            return trained, meta
        prepared.note("The saved model was trained with another vocabulary, another "
                      "encoder or its weights, or another seed.")
    settings = prepared.settings
    which, where = _MADE_IN[name]
    prepared.note(f"Training the {which} now ({settings.epochs} epochs; {where} does this).")
    grid = name in GRID_MODELS
    with training_scope(settings.strategy, settings.precision):  # docs/scaling.md
        model = build_model(prepared, name)
    fit(model, prepared.vocab, prepared.split("train", grid),
        prepared.split("val", grid), run_dir, epochs=settings.epochs, seed=settings.seed,
        info=run_info(settings, model=name), **fit_options)
    trained, _, meta = load_trained(run_dir)
    return trained, meta
