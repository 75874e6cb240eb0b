"""The merge model (helpers.models) and decoding (helpers.decoding) on tiny models."""

from __future__ import annotations

import gc
import itertools
import random
import weakref

import numpy as np
import pytest
import tensorflow as tf

from helpers.classic import classic_greedy_decode, next_word_model
from helpers.decoding import beam_search, caption_images, decoder_for, greedy_decode
from helpers.models import (
    build_attention_model,
    build_caption_model,
    build_inject_model,
    count_parameters,
)
from helpers.text import END, Vocabulary, VocabularyError


def tiny(n_words: int = 6, max_length: int = 7, seed: int = 1, feature_dim: int = 12):
    vocab = Vocabulary([f"w{i}" for i in range(n_words)], max_length=max_length)
    model = build_caption_model(len(vocab), feature_dim=feature_dim, units=8, embedding_dim=8,
                                dropout=0.0, seed=seed)
    features = np.random.default_rng(seed).normal(size=(6, feature_dim)).astype("float32")
    return model, vocab, features


def test_seed_defaults_and_parameter_count():
    model = build_caption_model(100)
    counts = count_parameters(model)
    assert counts["image_dense"] == 4096 * 256 + 256
    assert counts["embedding"] == 100 * 256
    assert counts["lstm"] == 4 * (256 * 256 + 256 * 256 + 256)
    assert counts["decoder_dense"] == 256 * 256 + 256
    assert counts["next_word"] == 256 * 100 + 100
    assert model.output_shape == (None, None, 100)


BUILDERS = {
    "merge": lambda seed: build_caption_model(20, feature_dim=8, units=4, embedding_dim=4,
                                              seed=seed),
    "inject": lambda seed: build_inject_model(20, feature_dim=8, units=4, embedding_dim=4,
                                              seed=seed),
    "attention": lambda seed: build_attention_model(20, grid_shape=(2, 2, 4), units=4,
                                                    embedding_dim=4, attention_dim=4, seed=seed),
}


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_seed_gives_one_model_and_leaves_the_learners_random_state_alone(kind):
    build = BUILDERS[kind]
    random.seed(7), np.random.seed(7), tf.random.set_seed(7)
    untouched = random.random(), np.random.rand(), float(tf.random.uniform(()))
    random.seed(7), np.random.seed(7), tf.random.set_seed(7)
    a = build(3)
    # building seeds the model, not the process: the learner's sequences go on as before
    assert (random.random(), np.random.rand(), float(tf.random.uniform(()))) == untouched
    for wa, wb in zip(a.get_weights(), build(3).get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    other = build(4).get_weights()
    assert all(not np.array_equal(wa, wo) for wa, wo in zip(a.get_weights(), other, strict=True)
               if wa.ndim > 1)  # every kernel and embedding differs (biases start the same)


def test_whole_caption_and_prefix_formulations_agree():
    model, vocab, features = tiny()
    caption = np.array([[2, 5, 7, 4, 9, 3]], dtype="int32")
    per_position = model.predict([features[:1], caption], verbose=0)[0]
    classic = next_word_model(model)
    for t in range(1, caption.shape[1] + 1):
        prefix = np.array(vocab.pad([caption[0, :t].tolist()]), dtype="int32")
        np.testing.assert_allclose(np.asarray(classic([features[:1], prefix]))[0],
                                   per_position[t - 1], rtol=1e-5, atol=1e-6)


def test_padding_does_not_change_predictions():
    model, _, features = tiny()
    short = np.array([[2, 5, 7]], dtype="int32")
    padded = np.array([[2, 5, 7, 0, 0, 0]], dtype="int32")
    np.testing.assert_allclose(model.predict([features[:1], short], verbose=0)[0],
                               model.predict([features[:1], padded], verbose=0)[0, :3],
                               rtol=1e-5, atol=1e-6)


def test_greedy_matches_the_classic_loop_and_beam_one():
    model, vocab, features = tiny()
    greedy = greedy_decode(model, features, vocab)
    assert greedy.captions == classic_greedy_decode(model, features, vocab)
    beam = beam_search(model, features, vocab, beam_size=1)
    assert beam.captions == greedy.captions
    np.testing.assert_allclose(beam.scores, greedy.scores, rtol=1e-5)
    assert caption_images(model, features, vocab, "beam1").captions == greedy.captions


def _sequence_log_prob(model, feature, tokens):
    """Log probability of ``tokens`` (after <start>) by the full model."""
    inputs = np.array([[2, *tokens[:-1]]], dtype="int32")
    probs = np.asarray(model([feature[None], inputs], training=False))[0].astype("float64")
    return float(sum(np.log(probs[t, w]) for t, w in enumerate(tokens)))


@pytest.mark.parametrize("length_penalty", [0.0, 0.7])
def test_beam_search_finds_the_best_of_all_sequences(length_penalty):
    model, vocab, features = tiny(n_words=2, max_length=4)
    end = vocab.index[END]
    words = [4, 5, end]
    candidates = []  # every caption of at most 3 tokens: ends with <end> or is cut at 3
    for length in (1, 2, 3):
        for seq in itertools.product(words, repeat=length):
            if end not in seq[:-1] and (seq[-1] == end or length == 3):
                candidates.append(list(seq))
    beam = beam_search(model, features, vocab, beam_size=len(candidates),
                       length_penalty=length_penalty)
    for i, feature in enumerate(features):
        scored = [(_sequence_log_prob(model, feature, s), s) for s in candidates]
        best_score, best = max(scored, key=lambda x: x[0] / len(x[1]) ** length_penalty)
        assert beam.tokens[i] == best
        assert beam.scores[i] == pytest.approx(best_score, abs=1e-4)
    # greedy's caption is one of the candidates: it cannot beat the beam on the beam's own
    # measure, the log probability divided by length ** length_penalty (the plain sum at 0)
    greedy = greedy_decode(model, features, vocab)
    for i in range(len(features)):
        normalised = greedy.scores[i] / len(greedy.tokens[i]) ** length_penalty
        assert normalised <= beam.scores[i] / len(beam.tokens[i]) ** length_penalty + 1e-5


def test_captions_never_contain_special_tokens():
    model, vocab, features = tiny(seed=4)
    for decoded in (greedy_decode(model, features, vocab),
                    beam_search(model, features, vocab, beam_size=3)):
        for caption, tokens in zip(decoded.captions, decoded.tokens):
            assert not {0, 1, 2} & set(tokens)
            assert "<" not in caption
            assert len(tokens) <= vocab.max_length - 1


def test_decoding_rejects_a_vocabulary_of_another_model():
    model, _, features = tiny()
    other = Vocabulary(["x", "y"], max_length=5)
    with pytest.raises(VocabularyError, match="predicts 10 words but the vocabulary has 6"):
        greedy_decode(model, features, other)
    with pytest.raises(ValueError, match="unknown decoding method"):
        caption_images(model, features, tiny()[1], "sampling")


def test_a_model_keeps_its_decoder_so_decoding_it_again_traces_nothing():
    model, vocab, features = tiny()
    first = decoder_for(model, vocab)
    assert decoder_for(model, vocab) is first  # notebook 06 times a second decoding
    captions = greedy_decode(model, features, vocab).captions
    traced = first.greedy_step.experimental_get_tracing_count()
    assert greedy_decode(model, features, vocab).captions == captions
    assert first.greedy_step.experimental_get_tracing_count() == traced
    assert beam_search(model, features, vocab, beam_size=1).captions == captions
    other_words = Vocabulary([f"v{i}" for i in range(6)], max_length=7)
    assert decoder_for(model, other_words) is not first  # another vocabulary, another decoder
    kept = weakref.ref(model)
    del model, first
    gc.collect()
    assert kept() is None, "the cache must not keep a model alive"
