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
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from helpers.costs import cost_note
from helpers.distribute import replicas, scaled_learning_rate
from helpers.encoders import EncoderChoice
from helpers.models import check_vocabulary, count_parameters, is_attention_model
from helpers.runs import HISTORY_FILE, read_history, save_trained
from helpers.runtime import backed_up_epochs, write_atomically
from helpers.text import Vocabulary
from helpers.transformer import is_transformer_model

BATCH_SIZE = 32
CHECKPOINTS = "checkpoints"  # BackupAndRestore's folder: the last epoch, to resume from


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
        features on disk (:meth:`helpers.feature_cache.FeatureCache.rows`): the
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


def feature_stats(cache, train_names: list[str], choice: EncoderChoice,
                  layer: str = "fc2") -> tuple | None:
    """Statistics to standardise the features with, or ``None`` for ImageNet's VGG16.

    The original tutorial feeds ImageNet ``fc2`` activations to the model as they
    are; any other encoder's activations have an arbitrary scale
    (:attr:`helpers.encoders.EncoderChoice.standardise`). Those are standardised
    with training-split statistics, so an untrained captioner starts close to
    uniform (notebook 04). ``layer``: the conv grid is standardised the same
    way, per channel (notebook 08).
    """
    if not choice.standardise:
        return None
    return cache.normalizer(train_names, layer)


def _signature(model: keras.Model, vocab: Vocabulary, train: CaptionData, info: dict,
               seed: int, scale: dict) -> str:
    """What a resumable run must share with the current one: model shape, words, data, encoder,
    seed, and (beyond one device in float32, ``scale``) the global batch, rate and precision."""
    parts = [json.dumps(count_parameters(model)), "\n".join(vocab.words),
             str(len(train)), str(train.num_words), str(info.get("dataset")),
             f"encoder {info.get('encoder')}", str(info.get("encoder_weights")), f"seed {seed}"]
    if scale:  # absent on one device in float32: the runs made before it resume as they were
        parts.append(json.dumps(scale, sort_keys=True))
    if is_attention_model(model):  # the penalty changes training but not the parameter count
        config = model.get_layer("attention_lstm").get_config()
        parts.append(json.dumps({k: config[k] for k in ("units", "attention_dim", "penalty")}))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


class _EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's duration to its logs as ``seconds`` (a column of ``history.csv``)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self.started, 2)


class _BestModel(keras.callbacks.ModelCheckpoint):
    """Keras' ``ModelCheckpoint(save_best_only=True)`` on the validation loss, whose every new
    best is also published as ``model.keras`` + ``model.json`` (vocabulary, what made it)."""

    def __init__(self, run_dir: Path, vocab: Vocabulary, info: dict, best: float | None):
        super().__init__(run_dir / CHECKPOINTS / "best.weights.h5", monitor="val_loss",
                         save_best_only=True, save_weights_only=True,
                         initial_value_threshold=best)
        self.run_dir, self.vocab, self.info = run_dir, vocab, info

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        before = self.best
        super().on_epoch_end(epoch, logs)
        if self.best != before:
            save_trained(self.model, self.vocab, self.run_dir, epoch=epoch + 1,
                         val_loss=float(self.best), **self.info)


class _EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' ``EarlyStopping`` on the validation loss that, in a resumed run, goes on counting
    from the epochs before the interruption (``history``) instead of from zero."""

    def __init__(self, patience: int, history: list[dict]):
        super().__init__(monitor="val_loss", patience=patience)
        self.before = history

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        if self.before:
            best = min(self.before, key=lambda row: row["val_loss"])
            self.best, self.best_epoch = best["val_loss"], best["epoch"] - 1
            self.wait = len(self.before) - best["epoch"]


class _History(keras.callbacks.CSVLogger):
    """Keras' ``CSVLogger``, with epochs numbered from 1 as notebook 05 counts them."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch + 1, logs)


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
    learning_rate: float | None = None,
) -> TrainingResult:
    """Train ``model`` with Adam and the masked loss, keeping the best epoch by validation loss.

    Keras' callbacks do the bookkeeping, in ``run_dir``: ``model.keras`` +
    ``model.json`` (the best model and its vocabulary; ``ModelCheckpoint``),
    ``history.csv`` (``CSVLogger``) and ``checkpoints/`` (the last epoch with
    the optimizer's state; ``BackupAndRestore``). With ``resume`` a run
    interrupted after epoch *k* goes on from epoch *k*; a finished run is not
    trained again. A run folder of another run (model shape, vocabulary, data,
    encoder or seed) is started afresh. ``patience`` stops after that many
    epochs without a better validation loss (``EarlyStopping``). ``seed`` fixes
    the order of the captions; the model's own seed fixes its weights and
    dropout. ``info`` is stored in ``model.json`` (dataset, encoder weights, ...).

    A model built in :func:`helpers.distribute.training_scope` trains on every
    replica of its strategy: ``batch_size`` is one replica's share of a global
    batch ``replicas`` times bigger, and Adam's rate, unless ``learning_rate``
    says otherwise, follows :func:`helpers.distribute.scaled_learning_rate`.
    One device (the series' way) keeps 32 captions and Keras' 1e-3.
    """
    check_vocabulary(model, vocab)
    for data in (train, val):
        if len(data) == 0:
            raise TrainingDataError(f"the {data.split!r} split has no captions to train on")
    run_dir = Path(run_dir)
    checkpoints = run_dir / CHECKPOINTS
    state_path = checkpoints / "state.json"
    strategy = model.distribute_strategy  # the one the model was built under, if any
    n_replicas = replicas(strategy)
    global_batch = batch_size * n_replicas
    rate = learning_rate or scaled_learning_rate(n_replicas)
    precision = model.dtype_policy.name
    scale = {key: value for key, value, usual in (
        ("replicas", n_replicas, 1), ("learning_rate", rate, scaled_learning_rate(1)),
        ("precision", precision, "float32")) if value != usual}
    signature = _signature(model, vocab, train, info or {}, seed, scale)
    state = json.loads(state_path.read_text()) if resume and state_path.exists() else {}
    if state.get("signature") != signature:  # another run, or none: start afresh
        shutil.rmtree(checkpoints, ignore_errors=True)
        (run_dir / HISTORY_FILE).unlink(missing_ok=True)
        checkpoints.mkdir(parents=True)
        state = {"signature": signature, "stopped_early": False}
        write_atomically(state_path, json.dumps(state, indent=1))
    logged = _read_history(run_dir)
    before = logged[:backed_up_epochs(checkpoints)]
    if len(before) < len(logged):  # an epoch logged but not backed up is trained again
        _write_history(run_dir, before)
    resumed_from = len(before)

    with strategy.scope():
        model.compile(optimizer=keras.optimizers.Adam(rate), loss=masked_loss())
    early = _EarlyStopping(patience, before) if patience else None
    best = min((row["val_loss"] for row in before), default=None)
    callbacks = [_EpochSeconds(),
                 _BestModel(run_dir, vocab, {"epochs": epochs, "batch_size": global_batch,
                                             **scale, **(info or {})}, best),
                 *([early] if early else []),
                 _History(run_dir / HISTORY_FILE, append=True),
                 keras.callbacks.BackupAndRestore(checkpoints, double_checkpoint=True,
                                                  delete_checkpoint=False)]
    # a run that stopped early asks for no more epochs: BackupAndRestore only restores its last
    last = min(epochs, resumed_from) if state["stopped_early"] else epochs
    step = ("transformer training" if is_transformer_model(model) else
            "attention training" if is_attention_model(model) else "merge training")
    note = cost_note(step, train.num_words * max(last - resumed_from, 0)) if verbose else None
    if note:  # a long training says so before it starts, with the way out
        print(note, flush=True)
    started = time.perf_counter()
    model.fit(train.pipeline(global_batch, shuffle=True, seed=seed + resumed_from), shuffle=False,
              validation_data=val.pipeline(global_batch, shuffle=False),
              epochs=last, callbacks=callbacks, verbose=verbose)
    elapsed = time.perf_counter() - started
    if early is not None and early.stopped_epoch:
        state["stopped_early"] = True
        write_atomically(state_path, json.dumps(state, indent=1))
    history = _read_history(run_dir)
    trained_epochs = len(history) - resumed_from
    best_row = min(history, key=lambda row: row["val_loss"]) if history else {}
    return TrainingResult(
        model=model, history=history, best_epoch=best_row.get("epoch", 0),
        best_val_loss=best_row.get("val_loss", float("inf")), resumed_from=resumed_from,
        stopped_early=bool(state["stopped_early"]),
        words_per_second=train.num_words * trained_epochs / elapsed if trained_epochs else 0.0,
    )


def _write_history(run_dir: Path, rows: list[dict]) -> None:
    """Rewrite ``history.csv`` with ``rows`` (the epochs a resumed run keeps)."""
    path = run_dir / HISTORY_FILE
    if not rows:
        path.unlink()
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, buffer.getvalue())


def _read_history(run_dir: Path) -> list[dict]:
    """``history.csv`` with whole epoch numbers; nothing when there is none yet."""
    if not (run_dir / HISTORY_FILE).exists():
        return []
    return [{**row, "epoch": int(row["epoch"])} for row in read_history(run_dir)]
