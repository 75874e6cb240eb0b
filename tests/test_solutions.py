"""The exercises' solutions (solutions/): every notebook has graded exercises, and the code works.

Each code solution runs here on tiny data and is held to what its answer
claims. The structure tests use the notebooks that exist, so a new notebook
cannot be added without Warm-up, Practice and Stretch exercises, hints and an
answers file.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers.check import check_python, summary
from helpers.data import load_dataset
from helpers.models import build_caption_model, count_parameters
from helpers.runs import load_trained, read_history
from helpers.settings import get_settings
from helpers.shapes import Scene, Thing
from helpers.text import Vocabulary, clean_caption, word_counts
from helpers.training import CaptionData, fit
from tests.fixtures import sample_captions, write_official

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "solutions"
ITEM = re.compile(r"^\*\*(\d+)\. (Warm-up|Practice|Stretch)\b", re.MULTILINE)
HINT = "<details><summary>Hint</summary>"
MODULE = re.compile(r"solutions/(nb\d\d_\w+)\.py")


# --------------------------------------------------------------------------
# Every notebook: graded exercises with hints, answers apart
# --------------------------------------------------------------------------


def exercises_of(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    found = [("".join(c["source"])) for c in cells
             if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## Exercises")]
    assert len(found) == 1, f"{path.name} needs exactly one '## Exercises' cell"
    return found[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_graded_exercises_and_hints(path):
    text = exercises_of(path)
    items = ITEM.findall(text)
    levels = {level for _, level in items}
    assert levels == {"Warm-up", "Practice", "Stretch"}, f"{path.name}: levels {levels}"
    assert [int(n) for n, _ in items] == list(range(1, len(items) + 1)), "numbered 1, 2, ..."
    assert text.count(HINT) == len(items) == text.count("</details>"), "one hint per exercise"
    assert f"solutions/{path.stem}.md" in text, "the exercises say where the answers are"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_an_answer_and_named_modules_exist(path):
    answers = SOLUTIONS / f"{path.stem}.md"
    assert answers.is_file(), f"write {answers.relative_to(ROOT)}"
    text = answers.read_text()
    for number, _ in ITEM.findall(exercises_of(path)):
        assert f"## Exercise {number}" in text, f"{answers.name} has no '## Exercise {number}'"
    for module in MODULE.findall(text):
        assert (SOLUTIONS / f"{module}.py").is_file(), f"{answers.name} names a missing {module}"
        importlib.import_module(f"solutions.{module}")


def test_every_code_solution_belongs_to_a_notebook_and_is_named_in_its_answers():
    notebooks = {p.name[:2]: p for p in NOTEBOOKS}
    modules = sorted(SOLUTIONS.glob("nb[0-9][0-9]_*.py"))
    assert modules
    for module in modules:
        number = module.name[2:4]
        assert number in notebooks, f"{module.name}: no notebook {number}"
        answers = SOLUTIONS / f"{notebooks[number].stem}.md"
        assert f"solutions/{module.name}" in answers.read_text(), (
            f"{answers.name} should point at {module.name}")


# --------------------------------------------------------------------------
# Tiny data
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flickr_like(tmp_path_factory):
    """Twelve images in the Flickr8k layout; one test caption has words training never uses."""
    captions = sample_captions(12)
    captions[sorted(captions)[11]][0] = "A zebra crosses the road ."
    names = sorted(captions)
    splits = {"train": names[:8], "val": names[8:10], "test": names[10:]}
    root = write_official(tmp_path_factory.mktemp("flickr"), captions, splits)
    return load_dataset("flickr8k", root=root)


def small_model(vocab_size, feature_dim=16, **options):
    options = {"units": 16, "embedding_dim": 8, "seed": 0, **options}
    return build_caption_model(vocab_size, feature_dim=feature_dim, **options)


def batch(vocab, n=4, feature_dim=16, seed=0):
    """Random features and the first ``n`` sample captions, as the model takes them."""
    rng = np.random.default_rng(seed)
    captions = [c for cs in sample_captions(n).values() for c in cs][:n]
    tokens = np.array(vocab.pad([vocab.encode(c) for c in captions]), dtype="int32")
    return rng.normal(size=(n, feature_dim)).astype("float32"), tokens


# --------------------------------------------------------------------------
# 00 · environment check
# --------------------------------------------------------------------------


def test_nb00_a_short_timeout_fails_only_optional_lines():
    from solutions.nb00_environment import download_checks

    unreachable = "http://127.0.0.1:9/nothing-here"  # the discard port: refused at once
    checks = download_checks(0.001, imagenet_url=unreachable, flickr8k_url=unreachable)
    flickr = next(c for c in checks if c.name == "Flickr8k zips")
    assert not flickr.ok and not flickr.required
    assert all(not c.required for c in checks)
    assert summary([check_python(), *checks]).startswith("READY")


def test_nb00_the_run_folder_check(tmp_path):
    from solutions.nb00_environment import check_run_folder

    good = check_run_folder(tmp_path / "new" / "run")
    assert good.ok and good.required and (tmp_path / "new" / "run").is_dir()
    assert list((tmp_path / "new" / "run").iterdir()) == [], "the test file is deleted"
    (tmp_path / "a_file").write_text("x")
    bad = check_run_folder(tmp_path / "a_file" / "runs")
    assert not bad.ok and bad.required and "FAIL" in bad.line()


# --------------------------------------------------------------------------
# 01 · data loading
# --------------------------------------------------------------------------


def test_nb01_the_original_split_trains_on_nine_tenths_and_tests_on_its_validation():
    from solutions.nb01_data import original_split_summary

    settings = get_settings()  # the tests' shapes world (conftest.py)
    sizes = original_split_summary(settings)
    assert sizes["train"] == int(0.9 * sizes["images"])
    assert sizes["val is test"] and sizes["test"] == sizes["images"] - sizes["train"]


def test_nb01_longest_caption_and_words_missing_from_training(flickr_like):
    from solutions.nb01_data import longest_caption, split_counts, words_missing_from_training

    name, caption = longest_caption(flickr_like)
    longest = max(len(clean_caption(c).split()) for cs in flickr_like.captions.values()
                  for c in cs)
    assert len(clean_caption(caption).split()) == longest and caption in flickr_like.captions[name]
    missing = words_missing_from_training(flickr_like)
    assert set(missing) == {"zebra", "crosses", "road"}  # "the" is in "plays in the snow"
    assert not set(missing) & set(split_counts(flickr_like, "train"))


def test_nb01_word_shares_barely_change_with_the_size_of_the_world(tmp_path):
    from solutions.nb01_data import word_shares

    small = word_shares(load_dataset("shapes", root=tmp_path / "s", n_images=60), top=5)
    large = word_shares(load_dataset("shapes", root=tmp_path / "l", n_images=180), top=5)
    assert list(small)[0] == list(large)[0] == "a"
    for word in set(small) & set(large):
        assert abs(small[word] - large[word]) < 0.03, word
    assert abs(sum(small.values()) - sum(large.values())) < 0.05


# --------------------------------------------------------------------------
# 02 · feature extraction
# --------------------------------------------------------------------------


def test_nb02_an_interrupted_extraction_resumes(tmp_path):
    from helpers.pretraining import pretrain
    from solutions.nb02_features import interrupted_extraction

    settings = get_settings()
    pretrain(settings.data_dir, settings.encoder, progress=False)  # notebook 02 does this first
    dataset = load_dataset("shapes", root=tmp_path / "world", n_images=24)
    result = interrupted_extraction(dataset, tmp_path / "trial", settings, batch_size=8,
                                    stop_after=2)
    assert result["before"] == {"done_batches": [0, 1], "complete": False}
    assert result["after"] == {"done_batches": [0, 1, 2], "complete": True}
    assert not (settings.run_dir / "features" / "trial").exists()


def test_nb02_group_separation_sees_groups_that_are_apart():
    from solutions.nb02_features import group_separation

    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(6, 1, (50, 2))])
    labels = ["a"] * 50 + ["b"] * 50
    assert group_separation(points, labels) > 5
    assert group_separation(points, list(rng.permutation(labels))) < 0.2


def test_nb02_fc1_and_fc2_are_probed_from_the_pretrained_network():
    from helpers.encoders import encoder_spec
    from helpers.features import build_encoder
    from helpers.images import image_batches
    from helpers.pretraining import pretrain
    from helpers.shapes import load_scenes
    from helpers.shapes_scenes import ATTRIBUTES, scene_labels
    from helpers.shapes_vgg import load_shapes_vgg
    from solutions.nb02_features import layer_features, probe_layers

    settings = get_settings()
    dataset = load_dataset(settings)
    names = dataset.splits["train"][:40]
    paths = [str(dataset.image_path(n)) for n in names]
    pretrain(settings.data_dir, settings.encoder, progress=False)  # notebook 02 does this first
    base = load_shapes_vgg(settings.data_dir, settings.encoder)
    fc2 = layer_features(base, paths, "fc2")
    encoder = build_encoder(settings.encoder_choice)
    expected = np.concatenate([encoder(images, training=False).numpy()
                               for images, _ in image_batches(paths, 32)])
    np.testing.assert_allclose(fc2, expected, rtol=1e-4, atol=1e-5)
    assert fc2.shape == (40, encoder_spec(settings.encoder).fc2_dim)
    truth = scene_labels(load_scenes(dataset.root), names)
    probes = probe_layers(base, paths, truth)
    assert set(probes) == {"fc1", "fc2"}
    for scores in probes.values():
        assert set(scores) == set(ATTRIBUTES) and all(0 <= v <= 1 for v in scores.values())


# --------------------------------------------------------------------------
# 03 · vocabulary
# --------------------------------------------------------------------------


TRAIN = ["A dog runs on the grass .", "A dog jumps .", "Two dogs play in a park .",
         "A cat sleeps .", "A dog and a cat ."]
VAL = ["A dog swims in a lake .", "A puppy runs .", "A dog runs in a park ."]


def test_nb03_unknown_words_are_really_unknown():
    from solutions.nb03_vocabulary import unknown_words

    vocab = Vocabulary.fit(TRAIN, min_count=2)
    unknown = unknown_words(vocab, VAL)
    assert unknown and all(w not in vocab for w, _ in unknown)
    assert dict(unknown) == {w: n for w, n in word_counts(VAL).items() if w not in vocab}
    assert unknown[0][1] == max(n for _, n in unknown)


def test_nb03_the_classic_cleaning_drops_a_and_shortens_captions():
    from solutions.nb03_vocabulary import classic_clean, classic_vocabulary

    assert classic_clean("A dog, in a park!") == "dog in park"
    ours, classic = Vocabulary.fit(TRAIN, min_count=1), classic_vocabulary(TRAIN, min_count=1)
    assert "a" in ours and "a" not in classic
    assert classic.max_length < ours.max_length


@pytest.mark.parametrize("min_count", [1, 2, 3])
def test_nb03_the_unk_share_is_one_minus_coverage(min_count):
    from solutions.nb03_vocabulary import unk_share

    vocab = Vocabulary.fit(TRAIN, min_count=min_count)
    assert unk_share(vocab, VAL) == pytest.approx(1 - vocab.coverage(VAL), abs=1e-12)
    assert unk_share(vocab, VAL) > 0


def test_nb03_vocabulary_parameters_match_the_model():
    from solutions.nb03_vocabulary import vocabulary_parameters

    counts = count_parameters(small_model(50))
    mine = vocabulary_parameters(50, units=16, embedding_dim=8)
    assert (mine["embedding"], mine["next_word"]) == (counts["embedding"], counts["next_word"])
    extra = vocabulary_parameters(7338)["both"] - vocabulary_parameters(2532)["both"]
    assert extra == (7338 - 2532) * (256 + 256 + 1)


# --------------------------------------------------------------------------
# 04 · the model
# --------------------------------------------------------------------------


def test_nb04_the_lstm_grows_fastest_with_units():
    from solutions.nb04_model import counts_by_units

    counts = counts_by_units(30, 16)  # units 128, 256, 512
    assert counts[128]["embedding"] == counts[512]["embedding"]  # 256 numbers a word, always
    lstm = counts[512]["lstm"] / counts[256]["lstm"]
    image = counts[512]["image_dense"] / counts[256]["image_dense"]
    assert lstm > 2.5 and image == pytest.approx(2.0)
    assert counts[256]["lstm"] == 4 * (256 + 256 + 1) * 256
    assert counts[512]["decoder_dense"] / counts[256]["decoder_dense"] > 3.9


def test_nb04_concatenation_adds_units_squared_to_the_decoder_dense():
    from solutions.nb04_model import build_variant_model

    add = count_parameters(build_variant_model(30, 16, units=8, embedding_dim=4))
    concat = count_parameters(build_variant_model(30, 16, units=8, embedding_dim=4,
                                                  merge="concat"))
    assert concat["total"] - add["total"] == 8 * 8
    assert concat["decoder_dense"] - add["decoder_dense"] == 8 * 8
    assert count_parameters(small_model(30, units=8, embedding_dim=4)) == add


def test_nb04_unscaled_features_break_the_untrained_loss():
    from solutions.nb04_model import untrained_loss

    vocab = Vocabulary.fit(TRAIN, min_count=1)
    features, tokens = batch(vocab)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    big = features * 1000
    raw = small_model(len(vocab))
    scaled = small_model(len(vocab), feature_stats=(big.mean(axis=0), big.std(axis=0) + 1e-6))
    uniform = np.log(len(vocab))
    assert abs(untrained_loss(raw, features, inputs, targets) - uniform) < 1.0
    assert abs(untrained_loss(scaled, big, inputs, targets) - uniform) < 1.0
    assert untrained_loss(raw, big, inputs, targets) > uniform + 2


def test_nb04_the_merge_model_never_looks_ahead_a_bidirectional_one_does():
    from solutions.nb04_model import build_variant_model, looks_ahead

    vocab = Vocabulary.fit(TRAIN, min_count=1)
    features, tokens = batch(vocab)
    assert not looks_ahead(small_model(len(vocab)), features, tokens, 2)
    both_ways = build_variant_model(len(vocab), 16, units=16, embedding_dim=8, bidirectional=True)
    assert looks_ahead(both_ways, features, tokens, 2)


# --------------------------------------------------------------------------
# 05 · training
# --------------------------------------------------------------------------


def test_nb05_the_kept_model_is_the_best_epoch_of_the_history(tmp_path, flickr_like):
    from solutions.nb05_training import best_epoch

    captions = flickr_like.captions
    splits = flickr_like.splits
    vocab = Vocabulary.fit([c for n in splits["train"] for c in captions[n]], min_count=1)
    rng = np.random.default_rng(0)

    def data(split):
        chosen = {n: captions[n] for n in splits[split]}
        return CaptionData.from_captions(split, chosen, vocab,
                                         rng.normal(size=(len(chosen), 16)).astype("float32"))

    fit(small_model(len(vocab)), vocab, data("train"), data("val"), tmp_path, epochs=3,
        batch_size=8, verbose=0)
    history = read_history(tmp_path)
    assert len(history) == 3
    assert best_epoch(history) == load_trained(tmp_path)[2]["epoch"]
    assert best_epoch([{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.5},
                       {"epoch": 3, "val_loss": 1.7}]) == 2


def test_nb05_dropout_acts_only_in_training_and_has_no_parameters():
    from solutions.nb05_training import dropout_changes_outputs

    vocab = Vocabulary.fit(TRAIN, min_count=1)
    features, tokens = batch(vocab)
    with_dropout, without = small_model(len(vocab)), small_model(len(vocab), dropout=0.0)
    assert dropout_changes_outputs(with_dropout, features, tokens)
    assert not dropout_changes_outputs(without, features, tokens)
    assert count_parameters(with_dropout) == count_parameters(without)


def test_nb05_windowed_bucketing_lands_between_shuffled_and_sorted():
    from solutions.nb05_training import padding_by_window, windowed_order

    lengths = np.random.default_rng(1).integers(5, 38, size=1000)  # Flickr8k-like spread
    order = windowed_order(lengths, 32, 4, seed=0)
    assert sorted(order) == list(range(1000))
    counts = padding_by_window(lengths, 32, windows=(1, 4, 16))
    assert counts["window 1"] == counts["shuffled"]  # sorting inside one batch changes nothing
    for window in (4, 16):
        assert counts["sorted"] <= counts[f"window {window}"] < counts["shuffled"]
    assert counts["window 16"] < counts["shuffled"] / 2


# --------------------------------------------------------------------------
# 06 · evaluation
# --------------------------------------------------------------------------


def test_nb06_length_normalisation_never_shortens_a_caption():
    from solutions.nb06_evaluation import length_normalisation

    vocab = Vocabulary.fit(TRAIN, min_count=1)
    features = np.random.default_rng(2).normal(size=(24, 16)).astype("float32")
    references = [TRAIN[:3]] * len(features)
    results = length_normalisation(small_model(len(vocab)), features, vocab, references,
                                   length_penalty=0.7, beam_size=3)
    plain, normalised = results["length_penalty 0.0"], results["length_penalty 0.7"]
    assert (normalised["lengths"] >= plain["lengths"]).all()
    assert normalised["mean length"] >= plain["mean length"]
    assert set(plain["BLEU"]) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}


def test_nb06_sentence_bleu4_is_zero_without_a_matching_four_gram():
    from solutions.nb06_evaluation import sentence_bleu4

    refs = [["a red circle on a white background", "one red circle"]] * 4
    scores = sentence_bleu4(refs, ["a red circle on a white background", "a red circle",
                                   "a white circle on red", "a blue star on a white background"])
    assert scores[0] == pytest.approx(1.0)
    # nltk puts the smallest float in place of a zero precision: "0" to any printed digit
    assert scores[1] < 1e-10  # three words: no 4-gram at all
    assert scores[2] < 1e-10  # every word is right, but no 4-gram is
    assert 0 < scores[3] < 1  # one 4-gram matches: "on a white background"


@pytest.mark.parametrize("hypotheses", [
    ["a dog runs on the grass", "a cat"],  # the second is short: brevity penalty
    ["the the the the dog", "a cat sleeps on a mat"],  # clipping
    ["<start> a dog jumps <end>", "two cats"],
])
def test_nb06_bleu1_by_hand_equals_nltk(hypotheses):
    from helpers.metrics import bleu
    from solutions.nb06_evaluation import bleu1

    references = [["A dog runs on the grass .", "The dog is running ."],
                  ["A cat sleeps .", "A cat is sleeping on a mat ."]]
    assert bleu1(references, hypotheses) == pytest.approx(bleu(references, hypotheses)["BLEU-1"],
                                                          abs=1e-12)


# --------------------------------------------------------------------------
# 07 · visualising captions
# --------------------------------------------------------------------------


ROW = Scene("gray", (Thing("star", "blue", "large", 40, 110),
                     Thing("circle", "red", "small", 180, 110)), "row")
COLUMN = Scene("black", (Thing("square", "green", "small", 110, 40),
                         Thing("circle", "yellow", "small", 110, 180)), "column")


def test_nb07_relations_are_checked_against_the_scene():
    from solutions.nb07_visualizing import relation_accuracy, relation_right

    assert relation_right("A blue star to the left of a red circle .", ROW) is True
    assert relation_right("there is a large blue star to the right of a small red circle", ROW) \
        is False
    assert relation_right("a red circle to the right of a blue star", ROW) is True
    assert relation_right("a green square above a yellow circle", COLUMN) is True
    assert relation_right("a yellow circle above a green square", COLUMN) is False
    assert relation_right("two shapes on gray", ROW) is None
    assert relation_right("a purple star to the left of a red circle", ROW) is None
    share, judged = relation_accuracy(["a blue star to the left of a red circle",
                                       "a blue star to the right of a red circle",
                                       "two shapes"], [ROW, ROW, ROW])
    assert (share, judged) == (0.5, 2)


def test_nb07_worst_overlap():
    from solutions.nb07_visualizing import worst_overlap

    scores = [0.1, 0.5, 0.2, 0.9, 0.0, 0.7]
    assert worst_overlap(scores, scores, 3) == 1.0
    assert worst_overlap(scores, [-s for s in scores], 3) == 0.0


def test_nb09_without_positions_the_transformer_cannot_see_the_mirror():
    from helpers.transformer import build_transformer_model
    from solutions.nb09_transformer import head_maps, mirror_change

    model = build_transformer_model(9, grid_shape=(3, 4, 5), max_length=6, dim=8, heads=2,
                                    ff_dim=8, blocks=2, dropout=0.0, seed=3)
    grids = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype("float32")
    tokens = np.array([[2, 5, 6, 7, 0]] * 3, dtype="int32")
    # probabilities start near uniform (small output weights): the positions move them
    # by 1e-4 (8e-5 to 7e-4 over seeds and Keras versions), rounding by 1e-8
    assert mirror_change(model, grids, tokens) > 1e-6
    assert mirror_change(model, grids, tokens, zero_positions=True) < 1e-7
    assert mirror_change(model, grids, tokens) > 1e-6  # the tables were put back
    maps = head_maps(model, grids, tokens)
    assert maps.shape == (3, 2, 5, 12)
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-5)
    from helpers.transformer import cross_attention_model

    np.testing.assert_allclose(maps.mean(axis=1),
                               cross_attention_model(model).predict([grids, tokens], verbose=0),
                               atol=1e-5)
