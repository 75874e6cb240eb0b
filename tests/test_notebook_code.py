"""Code a notebook shows and `helpers` also holds cannot drift apart.

Notebook 04 defines the merge model in a visible cell and notebook 06 writes a
plain greedy loop; later notebooks use `helpers`. These tests take the
function from the committed notebook and check it against `helpers`.
"""

from __future__ import annotations

import keras
import numpy as np

from helpers import answers, models
from helpers.decoding import greedy_decode
from helpers.models import build_caption_model, count_parameters
from helpers.text import Vocabulary
from helpers.training import masked_loss


def notebook_function(notebook: str, name: str, namespace: dict | None = None):
    """The function ``name`` as the committed ``notebook`` defines it."""
    return answers.notebook_function(notebook, name, {"keras": keras, "np": np,
                                                      **(namespace or {})})


def test_notebook_04_builds_the_same_model_as_helpers():
    build_merge_model = notebook_function("04_model.ipynb", "build_merge_model", {
        "UNITS": models.UNITS, "EMBEDDING_DIM": models.EMBEDDING_DIM, "DROPOUT": models.DROPOUT})
    rng = np.random.default_rng(0)
    stats = (rng.normal(size=4096).astype("float32"), rng.uniform(0.5, 2, 4096).astype("float32"))
    for feature_stats in (stats, None):
        shown = build_merge_model(40, feature_stats=feature_stats, seed=3)
        helper = build_caption_model(40, feature_stats=feature_stats, seed=3)
        assert [(type(a), a.name) for a in shown.layers] == [
            (type(b), b.name) for b in helper.layers]
        assert [tuple(a.output.shape) for a in shown.layers] == [
            tuple(b.output.shape) for b in helper.layers]
        assert count_parameters(shown) == count_parameters(helper)
        for a, b in zip(shown.get_weights(), helper.get_weights()):  # same seed, same start
            np.testing.assert_array_equal(a, b)
        helper.set_weights([w + 0.01 for w in helper.get_weights()])
        shown.set_weights(helper.get_weights())
        features = rng.normal(size=(3, 4096)).astype("float32")
        tokens = np.array([[2, 5, 7, 3, 0], [2, 9, 3, 0, 0], [2, 4, 4, 4, 3]], "int32")
        np.testing.assert_allclose(shown([features, tokens]), helper([features, tokens]),
                                   rtol=1e-5, atol=1e-6)


def test_notebook_06_plain_greedy_loop_gives_the_batched_captions():
    plain_greedy = notebook_function("06_evaluation.ipynb", "plain_greedy")
    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=7)
    model = build_caption_model(len(vocab), feature_dim=12, units=8, embedding_dim=8,
                                dropout=0.0, seed=1)
    features = np.random.default_rng(1).normal(size=(6, 12)).astype("float32")
    batched = greedy_decode(model, features, vocab).captions
    assert [plain_greedy(model, f, vocab) for f in features] == batched
    assert len(set(batched)) > 1, "the tiny model should caption the images differently"


def test_notebook_05_masked_loss_is_helpers_masked_loss():
    masked_cross_entropy = notebook_function("05_training.ipynb", "masked_cross_entropy")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(9), size=(4, 6)).astype("float32")
    targets = rng.integers(1, 9, size=(4, 6)).astype("int32")
    targets[:, 4:] = 0  # padding at the end of every caption...
    targets[0, 2:] = 0  # ...and a short one
    np.testing.assert_allclose(float(masked_cross_entropy(targets, probs)),
                               float(masked_loss()(targets, probs)), rtol=1e-5)
    changed = probs.copy()
    changed[targets == 0] = 1 / 9  # what the model says at padded positions is ignored
    np.testing.assert_allclose(float(masked_cross_entropy(targets, changed)),
                               float(masked_cross_entropy(targets, probs)), rtol=1e-6)


def test_notebook_09_decoder_block_is_helpers_decoder_block():
    """The block notebook 09 writes out computes what helpers.transformer.DecoderBlock does,
    padding and the causal mask included."""
    import keras.ops as ops

    from helpers.transformer import DecoderBlock

    decoder_block = notebook_function("09_transformer.ipynb", "decoder_block", {"ops": ops})
    rng = np.random.default_rng(2)
    block = DecoderBlock(dim=8, heads=2, ff_dim=16, dropout=0.0, seed=4)
    words = rng.normal(size=(3, 5, 8)).astype("float32")
    memory = rng.normal(size=(3, 12, 8)).astype("float32")
    tokens = np.array([[2, 5, 6, 7, 3], [2, 5, 3, 0, 0], [2, 6, 6, 3, 0]], dtype="int32")
    theirs, their_weights = block(words, memory, tokens)
    ours, our_weights = decoder_block(block, words, memory, tokens)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(our_weights, their_weights, atol=1e-6)
    later = words.copy()
    later[:, -1] += 1.0  # the last word changes: the words before it must not
    changed, _ = decoder_block(block, later, memory, tokens)
    np.testing.assert_allclose(np.asarray(changed)[:, :-1], np.asarray(ours)[:, :-1], atol=1e-5)


def test_notebook_06_beam_step_keeps_the_best_extensions_of_all_beams():
    beam_step = notebook_function("06_evaluation.ipynb", "beam_step")
    rng = np.random.default_rng(3)
    for k, vocab_size, beam_size in ((1, 9, 3), (3, 9, 3), (4, 6, 2)):
        scores = np.sort(rng.normal(size=k))[::-1]
        log_probs = np.log(rng.dirichlet(np.ones(vocab_size), size=k))
        beams, words, new = beam_step(scores, log_probs, beam_size)
        every = sorted(((scores[b] + log_probs[b, w], b, w) for b in range(k)
                        for w in range(vocab_size)), reverse=True)[:beam_size]
        np.testing.assert_allclose(new, [s for s, _, _ in every])
        assert [(int(b), int(w)) for b, w in zip(beams, words)] == [(b, w) for _, b, w in every]


def test_notebook_06_clipped_precision_is_nltks_modified_precision():
    from nltk.translate.bleu_score import modified_precision

    clipped_precision = notebook_function("06_evaluation.ipynb", "clipped_precision")
    rng = np.random.default_rng(4)
    words = ["a", "red", "circle", "left", "of", "blue", "square"]
    for _ in range(50):
        candidate = list(rng.choice(words, size=rng.integers(2, 9)))
        references = [list(rng.choice(words, size=rng.integers(2, 9))) for _ in range(3)]
        for n in (1, 2, 3):
            if len(candidate) < n:
                continue
            theirs = modified_precision(references, candidate, n)
            assert clipped_precision(candidate, references, n) == (
                theirs.numerator, theirs.denominator)


def test_notebook_08_coverage_penalty_is_helpers_coverage_penalty():
    coverage_penalty = notebook_function("08_attention.ipynb", "coverage_penalty")
    rng = np.random.default_rng(5)
    alphas = rng.dirichlet(np.ones(12), size=(3, 5)).astype("float32")
    tokens = np.array([[4, 5, 6, 3, 0], [4, 3, 0, 0, 0], [4, 4, 4, 4, 3]], "int32")
    np.testing.assert_allclose(coverage_penalty(alphas, tokens),
                               models.coverage_penalty(alphas, tokens), rtol=1e-6)
