"""Training (helpers.training): the pipeline, the masked loss, checkpoints, resuming, bad input."""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.data import load_dataset
from helpers.encoders import choose_encoder
from helpers.models import build_caption_model
from helpers.runs import load_trained, read_history
from helpers.text import Vocabulary, VocabularyError
from helpers.training import CaptionData, TrainingDataError, feature_stats, fit, masked_loss
from tests.fixtures import sample_captions, write_official

FEATURE_DIM = 16


class ArrayCache:
    """Stands in for a FeatureCache: fixed random features, one image unreadable."""

    def __init__(self, names, failed=()):
        rng = np.random.default_rng(0)
        self.features = {n: rng.normal(size=FEATURE_DIM).astype("float32") for n in names}
        self.available = [n for n in names if n not in failed]

    def get(self, names):
        return np.stack([self.features[n] for n in names])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    captions = sample_captions(12)
    names = sorted(captions)
    splits = {"train": names[:8], "val": names[8:10], "test": names[10:]}
    root = write_official(tmp_path_factory.mktemp("flickr"), captions, splits)
    dataset = load_dataset("flickr8k", root=root)
    vocab = Vocabulary.fit([c for n in splits["train"] for c in captions[n]], min_count=1)
    cache = ArrayCache(names, failed=[names[1]])
    return dataset, vocab, cache


def small_model(vocab, seed=0, units=16, dropout=0.5):
    return build_caption_model(len(vocab), feature_dim=FEATURE_DIM, units=units, embedding_dim=8,
                               dropout=dropout, seed=seed)


def test_caption_data_skips_images_without_features(world):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    assert len(train.names) == 7 and len(train) == 35  # 8 images, one unreadable, 5 captions each
    assert train.features.shape == (7, FEATURE_DIM)
    assert train.num_words == sum(len(vocab.encode(c)) - 1
                                  for n in train.names for c in dataset.captions[n])


def test_pipeline_shifts_and_pads_per_batch(world):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    batches = list(train.pipeline(batch_size=4, shuffle=False))
    assert sum(len(b[1]) for b in batches) == len(train)
    lengths = set()
    for (features, inputs), targets in batches:
        assert features.shape[1] == FEATURE_DIM and inputs.shape == targets.shape
        inputs, targets = inputs.numpy(), targets.numpy()
        # padded to the longest caption of this batch only
        lengths.add(inputs.shape[1])
        assert (inputs != 0).sum(axis=1).max() == inputs.shape[1]
        # the same positions are padding in inputs and targets; targets are inputs shifted
        np.testing.assert_array_equal(inputs == 0, targets == 0)
        words = inputs[:, 1:] != 0
        np.testing.assert_array_equal(inputs[:, 1:][words], targets[:, :-1][words])
        assert (targets[np.arange(len(targets)), (targets != 0).sum(1) - 1] == 3).all()  # <end>
        assert (inputs[:, 0] == vocab.index["<start>"]).all()
    assert len(lengths) > 1
    first = batches[0]
    np.testing.assert_array_equal(first[0][0].numpy()[0], train.features[train.image_index[0]])


def test_loss_counts_real_words_only():
    y_true = np.array([[5, 6, 3, 0, 0]])
    rng = np.random.default_rng(1)
    y_pred = rng.dirichlet(np.ones(8), size=(1, 5)).astype("float32")
    expected = -np.mean(np.log(y_pred[0, [0, 1, 2], [5, 6, 3]]))
    assert float(masked_loss()(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)
    more_padding = np.concatenate([y_true, np.zeros((1, 3), int)], axis=1)
    padded_pred = np.concatenate([y_pred, y_pred[:, :3]], axis=1)
    assert float(masked_loss()(more_padding, padded_pred)) == pytest.approx(expected, rel=1e-5)


def test_fit_saves_best_model_history_and_resumes(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    first = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0)
    assert first.resumed_from == 0 and first.epochs_done == 1
    # as if interrupted after epoch 1: asking for 3 epochs goes on from the checkpoint
    second = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=3, verbose=0)
    assert second.resumed_from == 1 and second.epochs_done == 3
    assert [row["epoch"] for row in read_history(tmp_path)] == [1, 2, 3]
    assert second.history[0] == first.history[0]
    # BackupAndRestore kept Adam's state: its step count goes on from epoch 1's
    steps = -(-len(train) // 32)
    assert int(second.model.optimizer.iterations) == 3 * steps
    # a finished run is not trained again
    again = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=3, verbose=0)
    assert again.resumed_from == 3 and again.epochs_done == 3

    model, loaded_vocab, meta = load_trained(tmp_path)
    assert loaded_vocab.words == vocab.words
    assert meta["epoch"] == second.best_epoch
    assert meta["val_loss"] == pytest.approx(min(r["val_loss"] for r in second.history))
    x = [val.features[:2], np.array([[2, 4, 5], [2, 6, 0]], dtype="int32")]
    best = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(model.predict(x, verbose=0), best.predict(x, verbose=0))


def test_resume_false_starts_afresh(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0)
    fresh = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, resume=False,
                verbose=0)
    assert fresh.resumed_from == 0
    assert [row["epoch"] for row in read_history(tmp_path)] == [1]


def test_early_stopping(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    # a big model without dropout learns eight images by heart: val loss soon rises (small
    # batches: more steps an epoch, so it stops after about 40 epochs rather than 140)
    model = small_model(vocab, units=128, dropout=0.0)
    result = fit(model, vocab, train, val, tmp_path, epochs=200, patience=2, verbose=0,
                 batch_size=4)
    assert result.stopped_early and result.epochs_done < 200
    assert result.epochs_done == result.best_epoch + 2
    # resuming a run that stopped early does not train it again
    again = fit(small_model(vocab, units=128, dropout=0.0), vocab, train, val, tmp_path,
                epochs=200, patience=2, verbose=0, batch_size=4)
    assert again.epochs_done == result.epochs_done


def test_the_original_tutorials_split_trains_too(tmp_path):
    captions = sample_captions(10)
    root = write_official(tmp_path / "flickr", captions)  # no split files needed
    dataset = load_dataset("flickr8k", root=root, split="90/10")
    vocab = Vocabulary.fit([c for n in dataset.splits["train"] for c in captions[n]], min_count=1)
    cache = ArrayCache(sorted(captions))
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    assert (len(train.names), len(val.names)) == (9, 1)
    result = fit(small_model(vocab), vocab, train, val, tmp_path / "run", epochs=1, verbose=0)
    assert result.epochs_done == 1


def test_bad_input_is_explained(world, tmp_path):
    dataset, vocab, cache = world
    empty = ArrayCache(sorted(dataset.captions), failed=dataset.splits["val"])
    with pytest.raises(TrainingDataError, match="'val' split .* has no images with features"):
        CaptionData.from_split(dataset, "val", vocab, empty)
    with pytest.raises(TrainingDataError, match="no 'holdout' split"):
        CaptionData.from_split(dataset, "holdout", vocab, cache)
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    other = Vocabulary(["only", "three", "words"], max_length=5)
    with pytest.raises(VocabularyError, match="different runs"):
        fit(small_model(other), vocab, train, train, tmp_path, epochs=1, verbose=0)
    with pytest.raises(FileNotFoundError, match="notebook 05"):
        load_trained(tmp_path / "nothing")


def test_a_checkpoint_of_other_encoder_weights_is_not_resumed(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0,
        info={"dataset": "flickr8k", "encoder_weights": "none"})
    other = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0,
                info={"dataset": "flickr8k", "encoder_weights": "imagenet"})
    assert other.resumed_from == 0
    assert load_trained(tmp_path)[2]["encoder_weights"] == "imagenet"


def test_a_run_of_another_seed_is_not_resumed(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    info = {"dataset": "flickr8k", "encoder_weights": "none"}
    fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0, info=info)
    same = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0, info=info)
    assert same.resumed_from == 1  # finished: nothing to train
    other = fit(small_model(vocab, seed=1), vocab, train, val, tmp_path, epochs=1, seed=1,
                verbose=0, info=info)
    assert other.resumed_from == 0 and other.epochs_done == 1


@pytest.mark.parametrize(("weights", "encoder", "standardised"), [
    ("none", "vgg16", True), ("imagenet", "vgg16", False),
    ("/models/vgg16_weights_tf_dim_ordering_tf_kernels.h5", "vgg16", False),
    ("imagenet", "shapes-vgg", True)])
def test_features_are_standardised_unless_they_are_imagenet_vgg16s(weights, encoder,
                                                                    standardised):
    class Cache:  # feature_stats only asks the cache for its normaliser
        def normalizer(self, names, layer="fc2"):
            return np.zeros(4), np.ones(4)

    stats = feature_stats(Cache(), ["a.jpg"], choose_encoder(encoder, weights))
    assert (stats is not None) == standardised


def test_fit_seeds_the_run_and_leaves_the_learners_random_state_alone(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)

    def draws() -> tuple:
        return random.random(), float(np.random.rand()), float(tf.random.uniform(()))

    models = [small_model(vocab, seed=2) for _ in range(2)]
    random.seed(7), np.random.seed(7), tf.random.set_seed(7)
    untouched = draws()
    random.seed(7), np.random.seed(7), tf.random.set_seed(7)
    first = fit(models[0], vocab, train, val, tmp_path / "a", epochs=2, seed=2, verbose=0)
    assert draws() == untouched  # Python's, NumPy's and TensorFlow's sequences go on as before
    # the same model seed and run seed train the same model, whatever the process did before
    random.seed(99)
    second = fit(models[1], vocab, train, val, tmp_path / "b", epochs=2, seed=2, verbose=0)
    assert [r["loss"] for r in second.history] == [r["loss"] for r in first.history]


def test_an_epoch_logged_but_not_backed_up_is_trained_again_once(world, tmp_path):
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    fit(small_model(vocab), vocab, train, val, tmp_path, epochs=1, verbose=0)
    # killed between the history row of epoch 2 and its backup: the row is there, the backup not
    history = tmp_path / "history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join([*lines, lines[-1].replace("1,", "2,", 1)]) + "\n")
    resumed = fit(small_model(vocab), vocab, train, val, tmp_path, epochs=2, verbose=0)
    assert resumed.resumed_from == 1 and resumed.epochs_done == 2
    assert [row["epoch"] for row in read_history(tmp_path)] == [1, 2]


def test_a_long_training_says_its_cost_before_it_starts(world, monkeypatch, tmp_path):
    from helpers import training
    from helpers.costs import cost_note

    # 20 epochs of Flickr8k's 354,336 words on a CPU: well over the 10 minutes
    note = cost_note("merge training", 20 * 354_336, on="cpu")
    assert note is not None and "on this machine's CPU (estimate" in note
    assert cost_note("merge training", 20 * 43_269, on="gpu") is None  # the shapes world

    said = []
    monkeypatch.setattr(training, "cost_note", lambda step, words: said.append((step, words)))
    dataset, vocab, cache = world
    train = CaptionData.from_split(dataset, "train", vocab, cache)
    val = CaptionData.from_split(dataset, "val", vocab, cache)
    fit(small_model(vocab), vocab, train, val, tmp_path / "quiet", epochs=2, verbose=0)
    assert said == []  # nothing is said when nothing is printed
    fit(small_model(vocab), vocab, train, val, tmp_path / "said", epochs=2, verbose=2)
    assert said == [("merge training", 2 * train.num_words)]
