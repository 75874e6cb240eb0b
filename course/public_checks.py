"""The checks a student runs under each TODO: ``grader.check("name")`` calls these.

Each check tries the student's function on small cases made here and stops at the first
thing that is wrong, saying what it is and what to look at. It ships in the student bundle,
so it holds no answer: the cases' expected values are worked out in the comments, by hand.
The autograder runs these and :mod:`course.hidden_checks`, whose cases differ.
"""

from __future__ import annotations

import numpy as np

LIBRARY = {
    "build_merge_model": {"build_caption_model", "build_inject_model"},
    "masked_cross_entropy": {"masked_loss", "SparseCategoricalCrossentropy", "ignore_class",
                             "sparse_categorical_crossentropy", "training"},
    "plain_greedy": {"greedy_decode", "beam_search", "caption_images", "decoding"},
    "beam_step": {"beam_search", "decoding"},
    "clipped_precision": {"modified_precision", "bleu", "corpus_bleu", "sentence_bleu",
                          "bleu_score"},
    "attend": {"AttentionLSTM", "attend"},
    "coverage_penalty": {"coverage_penalty"},
}
"""Names an answer may not use: the library version of what it asks you to write."""


def require(condition: bool, message: str) -> None:
    """Stop with ``message`` unless ``condition``: the feedback a student reads."""
    if not condition:
        raise AssertionError(message)


def own_code(function, name: str) -> None:
    """The answer is the student's own code, not a call of the library version."""
    from helpers.answers import names_used

    try:
        used = names_used(function) & LIBRARY[name]
    except (OSError, TypeError):  # no source to read (a lambda typed elsewhere, a builtin)
        raise AssertionError(f"{name}: define it with `def {name}(...)` in this notebook"
                             ) from None
    require(not used, f"{name} uses {', '.join(sorted(used))}: that is the library version of "
                      "what this question asks you to write. Write it yourself.")


def _numpy(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype="float64")


LAYERS = {"image_dropout": "Dropout", "image_dense": "Dense", "embedding": "Embedding",
          "word_dropout": "Dropout", "lstm": "LSTM", "merge": "Add", "decoder_dense": "Dense",
          "next_word": "Dense"}
"""The merge model's layers by name: later cells and helpers find them by these names."""


def build_merge_model(build) -> None:
    own_code(build, "build_merge_model")
    rng = np.random.default_rng(0)
    model = build(40, feature_dim=12, units=32, embedding_dim=8, seed=0)
    kinds = {layer.name: type(layer).__name__ for layer in model.layers}
    for name, kind in LAYERS.items():
        require(name in kinds, f"no layer named {name!r}: name the layers "
                f"{', '.join(LAYERS)} (found {sorted(kinds)})")
        require(kinds[name] == kind, f"the layer {name!r} is a {kinds[name]}; it should be a "
                f"{kind}")
    for name, activation in (("image_dense", "relu"), ("decoder_dense", "relu"),
                             ("next_word", "softmax")):
        used = getattr(model.get_layer(name).activation, "__name__", "?")
        require(used == activation, f"{name!r} uses the activation {used}; it should use "
                f"{activation}")
    for name in ("image_dense", "lstm", "decoder_dense"):
        require(model.get_layer(name).units == 32, f"{name!r} has "
                f"{model.get_layer(name).units} units, with units=32: use the `units` argument")
    features = rng.normal(size=(2, 12)).astype("float32")
    tokens = np.array([[2, 5, 7, 3, 0], [2, 9, 3, 0, 0]], "int32")
    probs = _numpy(model([features, tokens], training=False))
    require(probs.shape == (2, 5, 40), f"the output has shape {probs.shape}; it should be "
            "(batch, time, vocabulary) = (2, 5, 40): one next-word distribution per position")
    require(np.allclose(probs.sum(axis=-1), 1, atol=1e-4),
            "each position's output should sum to one: end with a softmax over the vocabulary")
    require(bool(model.get_layer("embedding").mask_zero),
            "the embedding must mask id 0 (mask_zero=True): otherwise padding is read as words")
    padded = np.concatenate([tokens, np.zeros((2, 4), "int32")], axis=1)
    longer = _numpy(model([features, padded], training=False))[:, :5]
    require(np.allclose(longer, probs, atol=1e-5),
            "extra padding changed the predictions at the real positions: padding must be "
            "masked (mask_zero=True on the embedding, and the mask must reach the LSTM)")
    other = _numpy(model([features[::-1], tokens], training=False))
    require(not np.allclose(other, probs, atol=1e-6), "the picture does not change the "
            "output: the image branch must reach the next-word layer (Add 'merge')")
    stats = (np.full(12, 3.0, "float32"), np.full(12, 2.0, "float32"))
    scaled = build(40, feature_dim=12, feature_stats=stats, seed=0)
    require("standardise" in {layer.name for layer in scaled.layers}, "with feature_stats "
            "given, the features go through a Normalization layer named 'standardise' first")


def masked_cross_entropy(loss) -> None:
    import tensorflow as tf

    own_code(loss, "masked_cross_entropy")
    # One caption, three positions, four words; the last target is padding (id 0).
    probs = np.array([[[0.1, 0.5, 0.2, 0.2], [0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]]],
                     "float32")
    targets = np.array([[1, 2, 0]], "int32")
    value = float(_numpy(loss(targets, probs)))
    # By hand: -(ln 0.5 + ln 0.6) / 2 = 0.6020 (two real words); 0.5202 with the padding.
    require(abs(value - 0.5202) > 1e-3, f"the loss is {value:.4f}: that is the mean over all "
            "three positions, padding included. Average over the real words only")
    require(abs(value - 0.6020) < 1e-3, f"the loss is {value:.4f}; by hand it is "
            "-(ln 0.5 + ln 0.6) / 2 = 0.6020: the mean of -ln p(target) over the real words")
    changed = probs.copy()
    changed[0, 2] = [0.25, 0.25, 0.25, 0.25]
    require(abs(float(_numpy(loss(targets, changed))) - value) < 1e-6,
            "what the model says at a padded position changed the loss: padding must count "
            "for nothing")
    # Two captions, one word and two: the mean over the batch's three words is
    # -(ln 0.5 + ln 0.5 + ln 0.6) / 3 = 0.6324; per caption first it would be 0.6476.
    two = np.concatenate([probs, probs], axis=0)
    targets2 = np.array([[1, 0, 0], [1, 2, 0]], "int32")
    value = float(_numpy(loss(targets2, two)))
    require(abs(value - 0.6476) > 1e-3, f"the loss is {value:.4f}, the mean of each caption's "
            "mean: average over all real words of the batch at once, so each word counts alike")
    require(abs(value - 0.6324) < 1e-3, f"two captions gave {value:.4f}; by hand 0.6324")
    tensor = tf.constant(two)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        result = loss(tf.constant(targets2), tensor)
    gradient = tape.gradient(result, tensor)
    require(gradient is not None, "no gradient flows through the loss: write it with keras.ops "
            "(or TensorFlow) on tensors, not NumPy, so that training can use it")


class TableModel:
    """A stand-in captioner: the next word depends only on the last one, from a table."""

    def __init__(self, table: dict[int, np.ndarray]):
        self.table, self.calls = table, []

    def __call__(self, inputs, training=False):
        import keras

        tokens = np.asarray(inputs[1])
        self.calls.append(tokens.shape[1])
        uniform = np.full(len(next(iter(self.table.values()))), 1.0)
        rows = [self.table.get(int(t), uniform / uniform.sum()) for t in tokens[0]]
        return keras.ops.convert_to_tensor(np.array([rows], "float32"))

    def predict(self, inputs, verbose=0):
        return np.asarray(self(inputs))


def _vocab():
    from helpers.text import Vocabulary

    return Vocabulary(["red", "circle", "square"], max_length=6)  # ids 4, 5, 6


def plain_greedy(greedy) -> None:
    own_code(greedy, "plain_greedy")
    vocab = _vocab()
    start, end, red, circle, square = (vocab.index[w] for w in
                                       ("<start>", "<end>", "red", "circle", "square"))

    def dist(**weights):
        row = np.full(len(vocab), 0.01)
        for word, p in weights.items():
            row[vocab.index.get(word, vocab.index.get(f"<{word}>"))] = p
        return row / row.sum()

    table = {start: dist(red=0.6), red: dist(circle=0.7), circle: dist(end=0.8),
             square: dist(end=0.8), end: dist(end=0.9)}
    caption = greedy(TableModel(table), np.zeros(3, "float32"), vocab)
    require(caption == "red circle", f"wrote {caption!r}; the most probable words are 'red', "
            "'circle', then <end>: 'red circle'")
    tricky = {**table, start: dist(start=0.5, unk=0.3, red=0.1),
              red: dist(pad=0.5, square=0.3)}
    caption = greedy(TableModel(tricky), np.zeros(3, "float32"), vocab)
    require(caption == "red square", f"wrote {caption!r}: <pad>, <unk> and <start> are never "
            "chosen, even when the model gives them the most probability")
    model = TableModel({**table, circle: dist(circle=0.9)})  # never ends
    caption = greedy(model, np.zeros(3, "float32"), vocab)
    require(len(caption.split()) == vocab.max_length - 1, f"wrote {caption!r}: without <end>, "
            "stop when the prefix holds vocab.max_length tokens (<start> and 5 words here)")
    require(model.calls == list(range(1, vocab.max_length)), f"the model was given prefixes of "
            f"lengths {model.calls}: give it the whole prefix at every step, 1, 2, 3... tokens")


def beam_step(step) -> None:
    own_code(step, "beam_step")
    # Two beams with scores -1 and -2; three words.
    scores = np.array([-1.0, -2.0])
    log_probs = np.log(np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]))
    beams, words, totals = (np.asarray(x) for x in step(scores, log_probs, 3))
    # By hand: -1+ln .5 = -1.69, -1+ln .3 = -2.20, -2+ln .9 = -2.11, -1+ln .2 = -2.61, ...
    require(len(totals) == 3, f"returned {len(totals)} beams; keep beam_size = 3")
    require(np.all(np.diff(totals) <= 0), "return the new beams best first")
    require(not np.allclose(totals, [np.log(.9), np.log(.5), np.log(.3)], atol=1e-3),
            "the totals are the words' own log probabilities: add each beam's score so far")
    require(list(zip(beams.tolist(), words.tolist())) == [(0, 2), (1, 0), (0, 1)],
            f"kept (beam, word) {list(zip(beams.tolist(), words.tolist()))}; the three best "
            "totals are (0, 2) -1.69, (1, 0) -2.11, (0, 1) -2.20: rank every beam with every "
            "word at once, and add each beam's score so far")
    require(np.allclose(totals, [-1 + np.log(.5), -2 + np.log(.9), -1 + np.log(.3)]),
            f"the new scores are {totals}: each is the beam's score plus the word's log p")


def clipped_precision(precision) -> None:
    own_code(precision, "clipped_precision")
    candidate, generated, *refs = (text.split() for text in (
        "the the the the the the the", "the cat sat on the mat",
        "the cat is on the mat", "there is a cat on the mat"))
    got = tuple(int(x) for x in precision(candidate, refs, 1))
    require(got != (7, 7), "(7, 7): every 'the' was counted. Clip each word's count at the "
            "most times one reference has it (2 here): 2/7")
    require(got != (3, 7), "(3, 7): the clip is the most times ONE reference has a word (2), "
            "not its count over all references (3)")
    require(got == (2, 7), f"{got}; Papineni et al.'s example is (2, 7)")
    got = tuple(int(x) for x in precision(generated, refs, 2))
    # bigrams: the cat, cat sat, sat on, on the, the mat: 'the cat', 'on the', 'the mat' match
    require(got == (3, 5), f"bigrams gave {got}; by hand 3 of the 5 bigrams occur: (3, 5)")


def attend(step) -> None:
    own_code(step, "attend")
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 4))
    h = rng.normal(size=3)
    W_a, b_a, W_h, v = (rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(3, 5)),
                        rng.normal(size=5))
    z, alpha = (np.asarray(x, "float64") for x in step(a, h, W_a, b_a, W_h, v))
    require(alpha.shape == (6,) and z.shape == (4,), f"returned shapes {z.shape} and "
            f"{alpha.shape}: the context (C,) = (4,) and one weight per position (L,) = (6,)")
    require(np.all(alpha >= 0), "a weight is negative: use a softmax of the scores")
    require(abs(alpha.sum() - 1) < 1e-6, f"the weights sum to {alpha.sum():.4f}: they must "
            "sum to one (a softmax over the positions)")
    require(np.allclose(z, alpha @ a), "the context should be the positions averaged with the "
            "weights: alpha @ a")
    same = np.repeat(a[:1], 6, axis=0)
    _, even = step(same, h, W_a, b_a, W_h, v)
    require(np.allclose(even, 1 / 6), "six identical positions should get 1/6 each: the "
            "score must come from the position and the state, nothing else")
    _, other = step(a, -h, W_a, b_a, W_h, v)
    require(not np.allclose(other, alpha), "the weights do not depend on the state h: add "
            "h @ W_h inside the tanh")


def coverage_penalty(penalty) -> None:
    import tensorflow as tf

    own_code(penalty, "coverage_penalty")
    T, L = 4, 8
    staring = np.zeros((1, T, L), "float32")
    staring[0, :, 0] = 1  # every word looks at position 0
    roaming = np.zeros((1, T, L), "float32")
    roaming[0, np.arange(T), np.arange(T)] = 1  # each word somewhere else
    even = np.full((1, T, L), 1 / L, "float32")
    words = np.ones((1, T), "int32")
    # By hand, coverage minus T/L = 0.5: staring (3.5^2 + 7 * 0.5^2) / 4 = 3.5,
    # roaming (4 * 0.5^2 + 4 * 0.5^2) / 4 = 0.5, even 0.
    for label, maps, expected in (("staring", staring, 3.5), ("roaming", roaming, 0.5),
                                  ("even", even, 0.0)):
        got = _numpy(penalty(maps, words))
        require(got.shape == (1,), f"returned shape {got.shape}: one penalty per caption")
        require(abs(got[0] - expected) < 1e-4, f"{label} maps gave {got[0]:.4f}, by hand "
                f"{expected}: sum over positions of (coverage - T/L)^2, divided by T")
    padded = np.concatenate([staring, np.full((1, 2, L), 1 / L, "float32")], axis=1)
    got = _numpy(penalty(padded, np.array([[1, 1, 1, 1, 0, 0]], "int32")))[0]
    require(abs(got - 3.5) < 1e-4, f"with two padding steps added it gave {got:.4f}, not 3.5: "
            "padding steps (token 0) must not count, in the coverage nor in T")
    try:
        traced = tf.function(penalty)(tf.constant(staring), tf.constant(words))
    except Exception as error:  # NumPy inside: cannot run in the training graph
        raise AssertionError(f"the penalty fails on tensors inside tf.function ({error!r:.200}):"
                             " write it with keras.ops, as the model trains with it") from None
    require(abs(float(_numpy(traced)[0]) - 3.5) < 1e-4, "inside tf.function it gives another "
            "value: write it with keras.ops only")
