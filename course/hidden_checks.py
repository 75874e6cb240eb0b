"""The autograder's further cases: other inputs than the public checks, against the series'
own code (``helpers``, nltk), which the grading environment has in full.

Only in the autograder and instructor bundles. A student who passes the public checks by
fitting them, not the task, fails here.
"""

from __future__ import annotations

import numpy as np

try:  # in the autograder these files lie flat beside the notebook
    from public_checks import _numpy, own_code, require
except ModuleNotFoundError:  # in the repository
    from course.public_checks import _numpy, own_code, require


def build_merge_model(build) -> None:
    from helpers.models import build_caption_model, count_parameters

    own_code(build, "build_merge_model")
    rng = np.random.default_rng(7)
    stats = (rng.normal(size=20).astype("float32"), rng.uniform(0.5, 2, 20).astype("float32"))
    for feature_stats in (None, stats):
        theirs = build(57, feature_dim=20, feature_stats=feature_stats, units=16,
                       embedding_dim=8, dropout=0.3, seed=5)
        ours = build_caption_model(57, feature_dim=20, feature_stats=feature_stats, units=16,
                                   embedding_dim=8, dropout=0.3, seed=5)
        require(count_parameters(theirs) == count_parameters(ours),
                f"with units=16, embedding_dim=8, vocabulary 57 and 20 features the model has "
                f"{count_parameters(theirs)} parameters; the merge model has "
                f"{count_parameters(ours)}: use the arguments, not fixed sizes")
        has = "standardise" in {layer.name for layer in theirs.layers}
        require(has == (feature_stats is not None), "standardise the features (a "
                "Normalization layer named 'standardise') exactly when feature_stats is given")
        tokens = np.array([[2, 9, 11, 3, 0, 0]], "int32")
        features = rng.normal(size=(1, 20)).astype("float32")
        probs = _numpy(theirs([features, tokens], training=False))
        require(probs.shape == (1, 6, 57) and np.allclose(probs.sum(-1), 1, atol=1e-4),
                "one next-word distribution per position, over the 57 words")
    dropouts = [layer.rate for layer in theirs.layers if layer.__class__.__name__ == "Dropout"]
    require(sorted(dropouts) == [0.3, 0.3], f"dropout rates {dropouts}: one Dropout on the "
            "image branch and one on the word branch, both at `dropout`")


def masked_cross_entropy(loss) -> None:
    import keras

    own_code(loss, "masked_cross_entropy")
    rng = np.random.default_rng(8)
    reference = keras.losses.SparseCategoricalCrossentropy(ignore_class=0)
    for batch, steps, words in ((5, 7, 11), (1, 3, 4), (8, 2, 30)):
        probs = rng.dirichlet(np.ones(words), size=(batch, steps)).astype("float32")
        targets = rng.integers(1, words, size=(batch, steps)).astype("int32")
        targets[:, steps - 1:] = 0
        targets[0, 1:] = 0
        value, expected = float(_numpy(loss(targets, probs))), float(reference(targets, probs))
        require(abs(value - expected) < 1e-4 * max(1, expected),
                f"on a batch of {batch} captions of {steps} steps the loss is {value:.5f}, the "
                f"masked cross-entropy is {expected:.5f}: average over all real words of the "
                "batch (not per caption, and without the padding)")


def plain_greedy(greedy) -> None:
    from helpers.decoding import greedy_decode
    from helpers.models import build_caption_model
    from helpers.text import Vocabulary

    own_code(greedy, "plain_greedy")
    vocab = Vocabulary([f"w{i}" for i in range(8)], max_length=8)
    model = build_caption_model(len(vocab), feature_dim=10, units=8, embedding_dim=8,
                                dropout=0.0, seed=2)
    features = np.random.default_rng(9).normal(size=(5, 10)).astype("float32")
    expected = greedy_decode(model, features, vocab).captions
    got = [greedy(model, feature, vocab) for feature in features]
    require(got == expected, f"on a small trained-shape model it wrote {got}; greedy decoding "
            f"writes {expected}")


def beam_step(step) -> None:
    own_code(step, "beam_step")
    rng = np.random.default_rng(10)
    for k, words, size in ((1, 7, 3), (3, 7, 3), (5, 4, 2), (2, 3, 6)):
        scores = np.sort(rng.normal(size=k))[::-1]
        log_probs = np.log(rng.dirichlet(np.ones(words), size=k))
        beams, ids, totals = (np.asarray(x) for x in step(scores, log_probs, size))
        best = sorted(((scores[b] + log_probs[b, w], b, w) for b in range(k)
                       for w in range(words)), reverse=True)[:size]
        require(np.allclose(totals, [s for s, _, _ in best]), f"with {k} beams of {words} "
                f"words, beam size {size}: totals {np.round(totals, 3)}, expected "
                f"{np.round([s for s, _, _ in best], 3)}")
        require([(int(b), int(w)) for b, w in zip(beams, ids)] == [(b, w) for _, b, w in best],
                "the beams and words returned do not match the totals")


def clipped_precision(precision) -> None:
    from nltk.translate.bleu_score import modified_precision

    own_code(precision, "clipped_precision")
    rng = np.random.default_rng(11)
    words = ["a", "red", "circle", "left", "of", "blue", "square"]
    for _ in range(40):
        candidate = [str(w) for w in rng.choice(words, size=rng.integers(3, 10))]
        references = [[str(w) for w in rng.choice(words, size=rng.integers(3, 10))]
                      for _ in range(rng.integers(1, 5))]
        for n in (1, 2, 3, 4):
            if len(candidate) < n:
                continue
            theirs = modified_precision(references, candidate, n)
            got = tuple(int(x) for x in precision(candidate, references, n))
            require(got == (theirs.numerator, theirs.denominator),
                    f"{' '.join(candidate)!r} against {len(references)} references, n={n}: "
                    f"{got}, BLEU's is ({theirs.numerator}, {theirs.denominator})")


def attend(step) -> None:
    from helpers.models import AttentionLSTM

    own_code(step, "attend")
    rng = np.random.default_rng(12)
    layer = AttentionLSTM(units=6, attention_dim=5)
    layer.build((None, None, 3), (None, None), (None, 9, 4), None, None)
    a = rng.normal(size=(9, 4)).astype("float32")
    h = rng.normal(size=6).astype("float32")
    W_a, b_a = (w.numpy() for w in layer.grid_keys.weights)
    W_h, v = layer.state_query.weights[0].numpy(), layer.score.weights[0].numpy()[:, 0]
    z, alpha = step(a, h, W_a, b_a, W_h, v)
    z_ref, alpha_ref = layer.attend(layer.grid_keys(a[None]), a[None], h[None])
    require(np.allclose(alpha, np.asarray(alpha_ref)[0], atol=1e-5),
            "the weights differ from additive attention's softmax(tanh(a W_a + b_a + h W_h) v)")
    require(np.allclose(z, np.asarray(z_ref)[0], atol=1e-5), "the context differs")
    big = step(a, h, W_a, b_a, W_h, v * 1000)[1]  # scores in the thousands
    require(np.all(np.isfinite(big)), "large scores overflow: subtract the largest score "
            "before exp")


def coverage_penalty(penalty) -> None:
    from helpers import models

    own_code(penalty, "coverage_penalty")
    rng = np.random.default_rng(13)
    alphas = rng.dirichlet(np.ones(12), size=(4, 6)).astype("float32")
    tokens = np.array([[4, 5, 6, 3, 0, 0], [4, 3, 0, 0, 0, 0], [4, 4, 4, 4, 4, 3],
                       [5, 3, 0, 0, 0, 0]], "int32")
    got = _numpy(penalty(alphas, tokens))
    expected = np.asarray(models.coverage_penalty(alphas, tokens))
    require(np.allclose(got, expected, rtol=1e-5, atol=1e-6),
            f"on four captions of 2 to 6 words: {np.round(got, 4)}, expected "
            f"{np.round(expected, 4)}")
