"""Training the captioner on whole captions (notebook 05).

The classic tutorials cut every caption into all its prefixes and train on
``(image, prefix) -> next word`` pairs, each prefix padded to the longest
caption. Here each caption is one example: the model reads
``<start> a dog runs`` and is asked, at every position at once, for the next
word ``a dog runs <end>`` (teacher forcing). Because the LSTM only looks
backwards, position *t* sees exactly the prefix of length *t*: it is the same
model and the same loss, computed once per caption instead of once per word.

What this module gives:

* :class:`CaptionData`: the captions of one split, encoded, with their image
  features, and a ``tf.data`` pipeline (shuffled, padded per batch);
* :func:`masked_loss`: cross-entropy over real words only (padding is 0 and
  ignored);
* :func:`fit`: Adam, validation every epoch, the best model by validation loss
  saved as ``model.keras`` with its vocabulary, ``history.csv``, optional early
  stopping, and resuming from the last checkpoint after an interruption.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from helpers.encoders import encoder_spec, is_pretrained
from helpers.models import count_parameters, is_attention_model
from helpers.runs import HISTORY_FILE, _save_model, check_vocabulary, save_trained
from helpers.runtime import write_atomically
from helpers.text import Vocabulary

BATCH_SIZE = 32


class TrainingDataError(ValueError):
    """Data that cannot be trained or evaluated on; the message says what to do."""


@dataclass
class CaptionData:
    """The captions of one split, ready for the model.

    ``features[i]`` belongs to image ``names[i]``; caption ``j`` is
    ``sequences[j]`` (ids with ``<start>`` and ``<end>``) of image
    ``image_index[j]``.
    """

    split: str
    names: list[str]
    features: np.ndarray  # or CachedRows: rows read from the cache when indexed
    image_index: np.ndarray
    sequences: list[np.ndarray]

    @classmethod
    def from_split(cls, dataset, split: str, vocab: Vocabulary, cache,
                   layer: str | None = None) -> CaptionData:
        """Encode the captions of ``dataset.splits[split]`` and read their features from ``cache``.

        Images without features (unreadable files, listed in ``cache.failed``)
        are left out. ``layer`` = the conv grid's name (notebook 08) leaves the
        features on disk (:meth:`helpers.features.FeatureCache.rows`): the
        pipeline reads each batch's grids when it needs them.
        """
        if split not in dataset.splits:
            raise TrainingDataError(
                f"the {dataset.name} dataset has no {split!r} split "
                f"(it has {', '.join(dataset.splits)})")
        with_features = set(cache.available)
        names = [n for n in dataset.splits[split] if n in with_features]
        if not names:
            raise TrainingDataError(
                f"the {split!r} split of {dataset.name} has no images with features "
                f"({len(dataset.splits[split])} listed). Check the split file, or run "
                "notebook 02 to extract the features.")
        captions = {name: dataset.captions[name] for name in names}
        features = cache.get(names) if layer is None else cache.rows(names, layer)
        return cls.from_captions(split, captions, vocab, features)

    @classmethod
    def from_captions(cls, split: str, captions: dict[str, list[str]], vocab: Vocabulary,
                      features: np.ndarray) -> CaptionData:
        """Encode ``captions`` (image name -> its captions); ``features`` rows in the same order."""
        names = list(captions)
        image_index, sequences = [], []
        for i, name in enumerate(names):
            for caption in captions[name]:
                image_index.append(i)
                sequences.append(np.array(vocab.encode(caption), dtype=np.int32))
        return cls(split, names, features, np.array(image_index, np.int64), sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_words(self) -> int:
        """Words the model predicts in one pass: every token after ``<start>``."""
        return sum(len(s) - 1 for s in self.sequences)

    def blind(self) -> CaptionData:
        """The same captions with every image replaced by one constant feature vector.

        A model trained on this can only learn the language of the captions, not
        what is in a picture: the baseline a real captioner must beat.
        """
        return replace(self, features=np.zeros_like(self.features[:1]).repeat(len(self.names), 0))

    def pipeline(self, batch_size: int = BATCH_SIZE, shuffle: bool = True, seed: int = 0):
        """A ``tf.data.Dataset`` of ``((features, input tokens), target tokens)`` batches.

        Input is a caption without its last token, target the same caption
        shifted by one (``<start> a dog`` -> ``a dog <end>``). Each batch is
        padded with 0 only to its own longest caption. Features in memory are
        gathered in the graph; features left on disk (a conv grid) are read
        batch by batch, so the whole grid is never in memory.
        """
        import tensorflow as tf

        lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        flat = np.concatenate(self.sequences).astype(np.int32)
        captions = tf.RaggedTensor.from_row_lengths(flat, lengths)
        data = tf.data.Dataset.from_tensor_slices((self.image_index, captions))
        if shuffle:
            data = data.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)

        def split_caption(index, caption):
            return (index, caption[:-1]), caption[1:]

        data = data.map(split_caption, num_parallel_calls=tf.data.AUTOTUNE).padded_batch(batch_size)
        if isinstance(self.features, np.ndarray):
            features = tf.constant(self.features, dtype=tf.float32)

            def fetch(inputs, target):
                index, tokens = inputs
                return (tf.gather(features, index), tokens), target
        else:
            rows, shape = self.features, self.features.shape[1:]

            def fetch(inputs, target):
                index, tokens = inputs
                batch = tf.numpy_function(rows.__getitem__, [index], tf.float32, stateful=False)
                return (tf.ensure_shape(batch, (None, *shape)), tokens), target

        return data.map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def masked_loss() -> keras.losses.Loss:
    """Cross-entropy averaged over real target words; padding (id 0) counts for nothing."""
    return keras.losses.SparseCategoricalCrossentropy(ignore_class=0, name="masked_loss")


def feature_stats(cache, train_names: list[str], weights: str,
                  encoder: str = "vgg16", layer: str = "fc2") -> tuple | None:
    """Statistics to standardise the features with, or ``None`` for ImageNet's VGG16.

    The seed feeds ImageNet ``fc2`` activations to the model as they are
    (``"imagenet"`` or a path to the ImageNet weights file). Any other encoder
    gives activations of an arbitrary scale: a randomly initialised VGG16
    (``weights="none"``), and ``shapes-vgg``, whose scale is whatever its
    minutes of pretraining left (its ``fc2`` is about twice as large as a
    random VGG16's). Those are standardised with training-split statistics,
    so an untrained captioner starts close to uniform (notebook 04). ``layer``:
    the conv grid is standardised the same way, per channel (notebook 08).
    """
    if encoder_spec(encoder).takes_weights and is_pretrained(weights, encoder):
        return None
    return cache.normalizer(train_names, layer)


def _signature(model: keras.Model, vocab: Vocabulary, train: CaptionData, info: dict,
               seed: int) -> str:
    """What a resumable run must share with the current one: model shape, words, data, encoder
    and seed (seed 0 adds nothing, so runs made before the seed setting still resume)."""
    parts = [json.dumps(count_parameters(model)), "\n".join(vocab.words),
             str(len(train)), str(train.num_words),
             str(info.get("dataset")), str(info.get("encoder_weights"))]
    parts += [f"seed {seed}"] if seed else []
    # VGG16 adds nothing, so runs made before the encoder setting still resume
    encoder = str(info.get("encoder", "vgg16")).lower()  # older runs wrote "VGG16"
    parts += [f"encoder {encoder}"] if encoder != "vgg16" else []
    if is_attention_model(model):  # the penalty changes training but not the parameter count
        config = model.get_layer("attention_lstm").get_config()
        parts.append(json.dumps({k: config[k] for k in ("units", "attention_dim", "penalty")}))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


class _RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: history, last checkpoint, best model, then the state that commits them."""

    def __init__(self, run_dir: Path, vocab: Vocabulary, state: dict, patience: int | None,
                 info: dict):
        super().__init__()
        self.run_dir, self.vocab, self.state = run_dir, vocab, state
        self.patience, self.info = patience, info
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        state = self.state
        row = {"epoch": epoch + 1, "loss": float(logs["loss"]),
               "val_loss": float(logs["val_loss"]),
               "seconds": round(time.perf_counter() - self.started, 2)}
        self.started = time.perf_counter()
        state["history"].append(row)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
        writer.writeheader()
        writer.writerows(state["history"])
        write_atomically(self.run_dir / HISTORY_FILE, buffer.getvalue())

        if row["val_loss"] < state["best_val_loss"]:
            state.update(best_val_loss=row["val_loss"], best_epoch=epoch + 1)
            save_trained(self.model, self.vocab, self.run_dir, epoch=epoch + 1,
                         val_loss=row["val_loss"], **self.info)
        checkpoints = self.run_dir / "checkpoints"
        checkpoints.mkdir(exist_ok=True)
        last = checkpoints / f"last-{epoch + 1:03d}.keras"
        _save_model(self.model, last)
        old = state.get("last_checkpoint")
        state.update(epochs_done=epoch + 1, last_checkpoint=last.name)
        if self.patience and epoch + 1 - state["best_epoch"] >= self.patience:
            state["stopped_early"] = True
            self.model.stop_training = True
        write_atomically(checkpoints / "state.json", json.dumps(state, indent=1))
        if old and old != last.name:
            (checkpoints / old).unlink(missing_ok=True)


@dataclass
class TrainingResult:
    """What :func:`fit` returns: the model as trained (last epoch) and the run's record."""

    model: keras.Model
    history: list[dict]
    best_epoch: int
    best_val_loss: float
    resumed_from: int  # epochs already done before this call (0: a fresh start)
    stopped_early: bool
    words_per_second: float

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def fit(
    model: keras.Model,
    vocab: Vocabulary,
    train: CaptionData,
    val: CaptionData,
    run_dir: str | Path,
    epochs: int = 20,
    batch_size: int = BATCH_SIZE,
    patience: int | None = None,
    resume: bool = True,
    seed: int = 0,
    verbose: int | str = 2,
    info: dict | None = None,
) -> TrainingResult:
    """Train ``model`` with Adam and the masked loss, keeping the best epoch by validation loss.

    Writes to ``run_dir``: ``model.keras`` + ``model.json`` (the best model and
    its vocabulary), ``history.csv`` and ``checkpoints/`` (the last epoch, for
    resuming). With ``resume`` a run interrupted after epoch *k* goes on from
    the checkpoint of epoch *k*; a finished run is not trained again.
    ``patience`` stops after that many epochs without a better validation loss.
    ``info`` is stored in ``model.json`` (dataset, encoder weights, ...).
    """
    check_vocabulary(model, vocab)
    for data in (train, val):
        if len(data) == 0:
            raise TrainingDataError(f"the {data.split!r} split has no captions to train on")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "checkpoints" / "state.json"
    signature = _signature(model, vocab, train, info or {}, seed)
    state = {"signature": signature, "epochs_done": 0, "best_epoch": 0,
             "best_val_loss": float("inf"), "history": [], "stopped_early": False}
    if resume and state_path.exists():
        saved = json.loads(state_path.read_text())
        checkpoint = state_path.parent / str(saved.get("last_checkpoint"))
        if saved.get("signature") == signature and checkpoint.exists():
            state = saved
            model = keras.models.load_model(checkpoint)
    resumed_from = state["epochs_done"]

    keras.utils.set_random_seed(seed + resumed_from)
    if resumed_from == 0:
        model.compile(optimizer=keras.optimizers.Adam(), loss=masked_loss())
    remaining = epochs - resumed_from
    started = time.perf_counter()
    if remaining > 0 and not state.get("stopped_early"):
        callback = _RunCheckpoint(run_dir, vocab, state, patience,
                                  {"epochs": epochs, "batch_size": batch_size, **(info or {})})
        model.fit(train.pipeline(batch_size, shuffle=True, seed=seed + resumed_from), shuffle=False,
                  validation_data=val.pipeline(batch_size, shuffle=False),
                  epochs=epochs, initial_epoch=resumed_from, callbacks=[callback],
                  verbose=verbose)
    elapsed = time.perf_counter() - started
    trained_epochs = state["epochs_done"] - resumed_from
    return TrainingResult(
        model=model, history=state["history"], best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"], resumed_from=resumed_from,
        stopped_early=bool(state.get("stopped_early")),
        words_per_second=train.num_words * trained_epochs / elapsed if trained_epochs else 0.0,
    )
