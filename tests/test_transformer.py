"""The transformer captioner (notebook 09): masks, positions, decoding, training and saving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.decoding import beam_search, greedy_decode
from helpers.feature_cache import CachedRows
from helpers.models import build_attention_model, is_attention_model
from helpers.runs import load_trained, read_history, save_trained
from helpers.step_decoders import TransformerStepDecoder, decoder_for
from helpers.text import END, START, Vocabulary
from helpers.training import CaptionData, fit
from helpers.transformer import (
    build_transformer_model,
    cross_attention_model,
    is_transformer_model,
)

ROOT = Path(__file__).resolve().parents[1]
GRID = (3, 4, 6)  # a tiny grid, not square: rows and columns must not be confused


def tiny(n_words: int = 6, max_length: int = 8, seed: int = 1, n_images: int = 5):
    vocab = Vocabulary([f"w{i}" for i in range(n_words)], max_length=max_length)
    model = build_transformer_model(len(vocab), grid_shape=GRID, max_length=max_length,
                                    dim=16, heads=2, ff_dim=32, blocks=2, dropout=0.0, seed=seed)
    grids = np.random.default_rng(seed).normal(size=(n_images, *GRID)).astype("float32")
    return model, vocab, grids


def test_a_word_sees_only_the_words_before_it_and_never_padding():
    model, _, grids = tiny()
    one = np.array([[2, 5, 7, 6]], dtype="int32")
    changed_last = np.array([[2, 5, 7, 9]], dtype="int32")
    padded = np.array([[2, 5, 7, 6, 0, 0]], dtype="int32")
    first = model.predict([grids[:1], one], verbose=0)[0]
    np.testing.assert_allclose(model.predict([grids[:1], changed_last], verbose=0)[0, :3],
                               first[:3], rtol=1e-5, atol=1e-6)  # causal
    np.testing.assert_allclose(model.predict([grids[:1], padded], verbose=0)[0, :4], first,
                               rtol=1e-5, atol=1e-6)  # padding changes nothing
    assert is_transformer_model(model) and not is_attention_model(model)


def test_the_grid_positions_tell_where_a_cell_is():
    """Swap two cells of a grid: the transformer notices, the attention LSTM cannot."""
    model, _, grids = tiny()
    swapped = grids.copy()
    swapped[:, 0, 0], swapped[:, 2, 3] = grids[:, 2, 3], grids[:, 0, 0]
    tokens = np.array([[2, 5, 7]] * len(grids), dtype="int32")
    before = model.predict([grids, tokens], verbose=0)
    # near-uniform untrained probabilities move by about 1e-4; rounding alone, by 1e-8
    assert np.abs(model.predict([swapped, tokens], verbose=0) - before).max() > 1e-6
    lstm = build_attention_model(len(before[0, 0]), grid_shape=GRID, units=8, embedding_dim=8,
                                 attention_dim=8, dropout=0.0, seed=1)
    np.testing.assert_allclose(lstm.predict([swapped, tokens], verbose=0),
                               lstm.predict([grids, tokens], verbose=0), rtol=1e-4, atol=1e-6)


def test_the_step_decoder_computes_what_the_whole_model_computes():
    model, vocab, grids = tiny()
    assert isinstance(decoder_for(model, vocab), TransformerStepDecoder)
    decoded = greedy_decode(model, grids, vocab)
    weights_of = cross_attention_model(model)
    for tokens, maps, score, grid in zip(decoded.tokens, decoded.attention, decoded.scores,
                                         grids):
        fed = np.array([[vocab.index[START], *tokens[:-1]]], dtype="int32")
        probs = model.predict([grid[None], fed], verbose=0)[0]
        assert np.isclose(score, np.log(probs[np.arange(len(tokens)), tokens]).sum(), atol=1e-3)
        assert maps.shape == (len(tokens), GRID[0] * GRID[1])
        np.testing.assert_allclose(maps, weights_of.predict([grid[None], fed], verbose=0)[0],
                                   rtol=1e-4, atol=1e-5)
    assert beam_search(model, grids, vocab, beam_size=1).captions == decoded.captions
    wide = beam_search(model, grids, vocab, beam_size=3, batch_size=2)
    assert (wide.scores >= decoded.scores - 1e-4).all()  # a wider beam never finds worse
    for maps in wide.attention:
        np.testing.assert_allclose(maps.sum(axis=1), 1.0, atol=1e-5)
    assert all(END not in c for c in wide.captions)


def test_trains_saves_and_loads_in_a_fresh_process(tmp_path):
    model, vocab, _ = tiny()
    rng = np.random.default_rng(0)
    grids = rng.normal(size=(8, *GRID)).astype("float32")
    captions = {f"{i}.jpg": [" ".join(f"w{(j + int(grids[i, 0, 0, 0] > 0)) % 6}"
                                      for j in range(4))] * 2 for i in range(8)}
    data = CaptionData.from_captions("train", captions, vocab, CachedRows(grids, np.arange(8)))
    fit(model, vocab, data, data, tmp_path / "run", epochs=5, batch_size=8, verbose=0)
    history = read_history(tmp_path / "run")
    assert history[-1]["loss"] < history[0]["loss"]
    loaded, loaded_vocab, _ = load_trained(tmp_path / "run")
    tokens = np.array([[2, 5, 7]], dtype="int32")
    np.testing.assert_allclose(loaded.predict([grids[:1], tokens], verbose=0),
                               model.predict([grids[:1], tokens], verbose=0), atol=1e-6)
    save_trained(loaded, loaded_vocab, tmp_path / "again")
    script = ("from helpers.runs import load_trained; m, v, _ = load_trained(r'%s'); "
              "print(m.name)" % (tmp_path / "again"))  # nothing imported but helpers.runs
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("transformer_captioner")


def test_bad_sizes_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="multiple of heads"):
        build_transformer_model(10, GRID, max_length=8, dim=10, heads=4)
    with pytest.raises(ValueError, match="4 special tokens"):
        build_transformer_model(4, GRID, max_length=8)
